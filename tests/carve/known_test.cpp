// `safehold carve --known SET… [--skip-known-ignorable]`: known-hash marking and PDQ hashes in
// report.jsonl, end to end on an ext4 image made with mke2fs -d, then exported to VICS.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "pdq/pdq.hpp"
#include "tests/common/support.hpp"

using nlohmann::json;
using safehold::test::must_run;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::TempDir;

TEST_CASE("carve marks known artefacts, leaves ignorable ones out, and hashes images with PDQ",
          "[known][cli]") {
  TempDir t;
  auto q = [](const std::filesystem::path& p) { return shell_quote(p.string()); };
  std::string safehold = shell_quote(safehold::test::safehold_binary());
  std::filesystem::create_directories(t / "root" / "DCIM");
  must_run("convert -size 320x240 gradient:gold-navy -fill red -draw 'circle 100,120 100,40' " +
           q(t / "root/DCIM/os.jpg"));
  must_run(
      "convert -size 300x200 gradient:white-darkgreen -fill purple -draw 'rectangle 30,30 "
      "200,150' " +
      q(t / "root/DCIM/graded.jpg"));
  must_run("convert -size 256x256 plasma:fractal -seed 3 " + q(t / "root/DCIM/new.png"));
  must_run("mke2fs -q -t ext4 -d " + q(t / "root") + " " + q(t / "disk.img") + " 16M");

  // Two sets: an ignorable one holding os.jpg's SHA-1, a graded one holding graded.jpg's MD5.
  auto sha1 = [&](const std::string& f) {
    return must_run("sha1sum " + q(t / "root/DCIM" / f) + " | cut -c1-40").substr(0, 40);
  };
  safehold::test::write_text(t / "os.txt", sha1("os.jpg") + "\n");
  safehold::test::write_text(t / "graded.txt",
                             safehold::test::md5_file(t / "root/DCIM/graded.jpg") + ",1\n");
  must_run(safehold + " hashset import --format text " + q(t / "os.txt") + " -o " +
           q(t / "os.set") + " --name OS --ignorable");
  must_run(safehold + " hashset import --format text " + q(t / "graded.txt") + " -o " +
           q(t / "graded.set") + " --name Graded");

  must_run(safehold + " carve " + q(t / "disk.img") + " -o " + q(t / "out") +
           " --no-unallocated --json --known " + q(t / "os.set") + " " + q(t / "graded.set") +
           " --skip-known-ignorable");
  std::map<std::string, json> by_name;
  std::ifstream in(t / "out/report.jsonl");
  for (std::string l; std::getline(in, l);) {
    auto a = json::parse(l);
    by_name[a["path"].get<std::string>()] = a;
  }
  REQUIRE(by_name.size() == 3);
  auto& os = by_name["/DCIM/os.jpg"];
  auto& graded = by_name["/DCIM/graded.jpg"];
  auto& fresh = by_name["/DCIM/new.png"];
  CHECK(os["known"] == json{{"set", "OS"}, {"category", nullptr}, {"ignorable", true}});
  CHECK(os["file"].is_null());  // left out of artefacts/, kept in the report
  CHECK_FALSE(
      std::filesystem::exists(t / "out/artefacts/jpeg" / (os["id"].get<std::string>() + ".jpg")));
  CHECK(graded["known"] == json{{"set", "Graded"}, {"category", "1"}, {"ignorable", false}});
  CHECK(std::filesystem::exists(t / "out" / graded["file"].get<std::string>()));
  CHECK(fresh["known"].is_null());
  auto summary = json::parse(safehold::test::read_text(t / "out/summary.json"));
  CHECK(summary["known"] == 2);
  CHECK(summary["known_ignorable_skipped"] == 1);

  // PDQ of every image, equal to hashing the original file.
  for (auto [path, a] : std::vector<std::pair<std::string, json*>>{
           {"os.jpg", &os}, {"graded.jpg", &graded}, {"new.png", &fresh}}) {
    auto img = safehold::pdq::decode_image_file(t / "root/DCIM" / path);
    REQUIRE(img);
    auto r = safehold::pdq::hash_image(*img);
    INFO(path);
    CHECK((*a)["pdq"] == r.hash.hex());
    CHECK((*a)["pdq_quality"] == r.quality);
  }

  // The VICS export carries the graded category and the PDQ.
  must_run(safehold + " export --vics " + q(t / "case.json") + " " + q(t / "out"));
  auto vics = json::parse(safehold::test::read_text(t / "case.json"));
  REQUIRE(vics["value"].size() == 3);
  bool seen = false;
  for (auto& m : vics["value"])
    if (m["MediaFiles"][0]["FilePath"] == "/DCIM/graded.jpg") {
      seen = true;
      CHECK(m["Category"] == 1);
      CHECK(m["IsPrecategorized"] == true);
      CHECK(m["AlternativeHashes"][1] == json{{"HashName", "PDQ"}, {"HashValue", graded["pdq"]}});
    }
  CHECK(seen);

  auto r = run(safehold + " carve " + q(t / "disk.img") + " -o " + q(t / "o2") + " --known " +
               q(t / "os.txt"));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("--known: " + (t / "os.txt").string() + ": not a valid Safehold hash set") !=
        std::string::npos);
}
