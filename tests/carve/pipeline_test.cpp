// The carving pipeline's seams: the type table the walkers fill, views that name their address
// space, and carve() itself on an ext4 image with a JPEG in unpartitioned space: final ids from
// the start (no scratch left behind), known ignorable files never reaching artefacts/ in either
// pass, and the Summary's message counts (the worker reads them instead of report.jsonl).
#include <fmt/core.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "carve/carver.hpp"
#include "carve/walker.hpp"
#include "fs/evidence.hpp"
#include "hashset/hashset.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using namespace safehold::carve;
using nlohmann::json;
using safehold::test::must_run;
using safehold::test::shell_quote;
using safehold::test::TempDir;

TEST_CASE("the type table holds every walker's types, aliases, extensions and MIME", "[types]") {
  const Registry& reg = Registry::builtin();
  std::set<std::string> names;
  for (const TypeRow& row : reg.types()) {
    INFO(row.info->name);
    CHECK(names.insert(std::string(row.info->name)).second);  // one row per type
    CHECK(!row.info->ext.empty());
    CHECK(!row.info->mime.empty());
    CHECK(reg.find_type(row.info->name) == &row);
    for (auto alias : row.info->aliases) CHECK(reg.find_type(alias) == &row);
    // The first type of a family is the one it reports before a walk names another.
    CHECK(std::find(reg.all().begin(), reg.all().end(), row.walker) != reg.all().end());
  }
  CHECK(names.size() == media_types().size() + 1);  // media, and sqlite for the chat readers
  CHECK(reg.find_type("jpg")->info->name == "jpeg");
  CHECK(reg.find_type("wmv")->info->name == "asf");
  CHECK(reg.find_type("heic")->info->name == "heif");
  CHECK(reg.find_type("exe") == nullptr);
  CHECK(parse_types("media").count("sqlite") == 0);
  CHECK(parse_types("chat,png") == std::set<std::string>{"sqlite", "png"});
  CHECK(extension_fits("mov", "qt"));
  CHECK(extension_fits("sqlite", "anything"));
  CHECK_FALSE(extension_fits("png", "jpg"));
  // Only walkers whose lead bytes hold a view's first byte are asked, so each must declare them.
  for (const Walker* w : reg.all()) {
    INFO(w->name());
    CHECK(!w->lead_bytes().empty());
    for (unsigned char b : w->lead_bytes()) CHECK(reg.may_start(b));
  }
  CHECK_FALSE(reg.may_start('x'));
}

TEST_CASE("a view says which address space its offsets are in", "[types]") {
  std::vector<std::byte> data(1024);
  auto file = ByteView::whole(data);
  CHECK(file.origin().space == Space::file);
  CHECK(file.sub(100).origin().offset == 100);
  CHECK_THROWS_AS(file.carve_offset(), std::bad_optional_access);
  auto carved = ByteView::in_carve_space(data, 4096, false);
  CHECK(carved.sub(512, 10).carve_offset() == 4608);
  CHECK(carved.sub(512, 10).origin().space == Space::carve);
  CHECK_FALSE(carved.ends_data());
}

TEST_CASE("carve writes each artefact once under its final id and never an ignorable one",
          "[pipeline][cli]") {
  TempDir t;
  auto q = [](const std::filesystem::path& p) { return shell_quote(p.string()); };
  std::filesystem::create_directories(t / "root/DCIM");
  std::filesystem::create_directories(t / "root/data/sms");
  must_run("convert -size 320x240 gradient:gold-navy " + q(t / "root/DCIM/keep.jpg"));
  must_run("convert -size 300x200 plasma:fractal -seed 7 " + q(t / "free.jpg"));
  const auto fx = safehold::test::fixtures();
  if (fx) std::filesystem::copy_file(*fx / "chat/mmssms.db", t / "root/data/sms/mmssms.db");
  // A bare ext4 filesystem, then the free JPEG in the unpartitioned MiB after it (pass 2's).
  must_run("mke2fs -q -t ext4 -d " + q(t / "root") + " " + q(t / "disk.img") + " 16M");
  must_run("truncate -s 17M " + q(t / "disk.img") + " && dd if=" + q(t / "free.jpg") +
           " of=" + q(t / "disk.img") + " bs=1M seek=16 conv=notrunc status=none");
  const std::string free_sha256 = safehold::test::sha256_file(t / "free.jpg");
  safehold::test::write_text(
      t / "ignore.txt", must_run("sha1sum " + q(t / "free.jpg") + " | cut -c1-40").substr(0, 40));
  must_run(shell_quote(safehold::test::safehold_binary()) + " hashset import --format text " +
           q(t / "ignore.txt") + " -o " + q(t / "ignore.set") + " --name Ignore --ignorable");

  hashset::HashSets known;
  known.add(hashset::HashSet::open(t / "ignore.set"));
  auto ev = fs::Evidence::open(t / "disk.img", false);
  std::filesystem::create_directories(t / "out");
  CarveOptions o;
  o.outdir = t / "out";
  o.known = &known;
  o.skip_known_ignorable = true;
  Summary s = carve::carve(*ev, o);

  std::vector<json> report;
  std::ifstream in(t / "out/report.jsonl");
  for (std::string l; std::getline(in, l);) report.push_back(json::parse(l));
  REQUIRE(report.size() == s.artefacts);
  uint64_t messages = 0, recovered = 0, n = 0;
  bool carved_seen = false;
  for (auto& a : report) {
    INFO(a.dump());
    if (a["parent"].is_null()) CHECK(a["id"] == fmt::format("{:06}", ++n));  // in report order
    if (a["sha256"] == free_sha256) {
      carved_seen = true;
      CHECK(a["state"] == "carved");
      CHECK(a["known"]["ignorable"] == true);
      CHECK(a["file"].is_null());
      CHECK_FALSE(std::filesystem::exists(t / "out/artefacts/jpeg" /
                                          (a["id"].get<std::string>() + ".jpg")));
      continue;
    }
    REQUIRE(a["file"].is_string());
    auto f = t / "out" / a["file"].get<std::string>();
    CHECK(f.filename().string().rfind(a["id"].get<std::string>() + ".", 0) == 0);
    CHECK(safehold::test::sha256_file(f) == a["sha256"]);
    if (a["type"] == "sqlite") {
      messages += a["messages"].get<uint64_t>();
      recovered += a["recovered"].get<uint64_t>();
    }
  }
  CHECK(carved_seen);
  CHECK(s.known == 1);
  CHECK(s.known_skipped == 1);
  CHECK(s.messages == messages);
  CHECK(s.recovered_messages == recovered);
  if (fx) CHECK(s.messages == 9);  // the SMS fixture's
  // Nothing but type folders under artefacts/: no scratch of either pass is left.
  for (auto& e : std::filesystem::recursive_directory_iterator(t / "out/artefacts"))
    CHECK(e.path().filename().string().front() != '.');
}
