// `safehold carve` end to end on a generated three-partition disk (FAT32, ext4, NTFS) holding media
// made by real encoders: every recoverable file comes back with its exact SHA-256, path and
// state; raw and E01 give the same report; the DFXML validates against the schema.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/common/support.hpp"

using nlohmann::json;
using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::TempDir;

namespace {

std::vector<json> lines(const std::filesystem::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(json::parse(l));
  return out;
}

bool can_mount_ntfs() {
  return geteuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0;
}

std::string safehold_bin() {
  return shell_quote(safehold::test::safehold_binary());
}

// Every report line holds exactly the keys the issue lists (SQLite lines add companions and chat
// results; pictures their PDQ, videos their vPDQ frames), and its file the bytes its hashes say.
void check_report_lines(const std::vector<json>& report, const std::filesystem::path& out) {
  const std::set<std::string> keys = {"id",     "type",      "mime",   "size",
                                      "md5",    "sha1",      "sha256", "file",
                                      "state",  "path",      "volume", "fs",
                                      "inode",  "byte_runs", "mtime",  "atime",
                                      "ctime",  "crtime",    "valid",  "extension_mismatch",
                                      "parent", "warnings",  "known"};
  static const std::set<std::string> videos = {"mp4", "mov", "3gp", "m4v",
                                               "avi", "asf", "mkv", "webm"};
  for (auto& a : report) {
    if (a["type"] == "sqlite") continue;
    std::set<std::string> got;
    for (auto& [k, v] : a.items()) got.insert(k);
    auto want = keys;
    if (a["type"] == "jpeg" || a["type"] == "png") want.insert({"pdq", "pdq_quality"});
    if (videos.count(a["type"].get<std::string>())) {
      want.insert({"vpdq", "vpdq_frames"});
      // Frame hashes, or a warning saying why there are none.
      CHECK((a["vpdq_frames"].is_number() || !a["warnings"].empty()));
    }
    CHECK(got == want);
    // The artefact file holds what the hashes say, under a name made of Safehold's id.
    auto f = out / a["file"].get<std::string>();
    CHECK(safehold::test::sha256_file(f) == a["sha256"]);
    CHECK(f.filename().string().rfind(a["id"].get<std::string>() + ".", 0) == 0);
  }
}

}  // namespace

TEST_CASE("carve finds every recoverable file of a three-partition disk, raw and E01 alike",
          "[slow][root]") {
  if (!can_mount_ntfs()) {
    WARN("skipped: building the NTFS partition needs root and /dev/fuse");
    return;
  }
  TempDir t;
  std::string gen = "python3 " +
                    shell_quote(safehold::test::source_dir() + "/tests/carve/make_disk.py") + " " +
                    shell_quote(t.path().string());
  if (auto fx = safehold::test::fixtures())
    gen += " --chat-fixtures " + shell_quote((*fx / "chat").string());
  must_run(gen);
  const auto disk = t / "disk.raw";
  json truth = json::parse(read_text(t / "truth.json"));
  REQUIRE(truth.size() >= 25);

  must_run(safehold_bin() + " carve " + shell_quote(disk.string()) + " -o " +
           shell_quote((t / "raw").string()) + " --json");
  auto report = lines(t / "raw" / "report.jsonl");
  std::multimap<std::string, json> by_sha;
  for (auto& a : report) by_sha.emplace(a["sha256"].get<std::string>(), a);

  check_report_lines(report, t / "raw");

  for (auto& x : truth) {
    std::string expect = x["expect"];
    INFO("truth: " << x.dump());
    auto range = by_sha.equal_range(x["sha256"].get<std::string>());
    if (expect == "damaged") {
      CHECK(range.first == range.second);  // overwritten: nothing whole is left
      continue;
    }
    REQUIRE(range.first != range.second);
    const json& a = range.first->second;
    CHECK(a["type"] == x["type"]);
    CHECK(a["valid"] == true);
    CHECK(a["state"] == expect);
    if (expect != "carved") {
      CHECK(a["path"] == x["path"]);
      CHECK(a["fs"] == x["fs"]);
      CHECK(a["inode"].is_number());
      CHECK(!a["byte_runs"].empty());
    } else {
      CHECK(a["path"].is_null());
      CHECK(a["inode"].is_null());
    }
    if (x.contains("mtime") && !x["mtime"].is_null()) CHECK(a["mtime"] == x["mtime"]);
    CHECK(a["extension_mismatch"] == (x.value("mismatch", false)));
    if (x.contains("thumbnail")) {
      auto th = by_sha.equal_range(x["thumbnail"].get<std::string>());
      REQUIRE(th.first != th.second);
      CHECK(th.first->second["parent"] == a["id"]);
    }
    if (x.contains("gap")) {
      REQUIRE(a["byte_runs"].size() == 2);
      CHECK(a["byte_runs"][1]["img_offset"].get<uint64_t>() -
                (a["byte_runs"][0]["img_offset"].get<uint64_t>() +
                 a["byte_runs"][0]["len"].get<uint64_t>()) ==
            x["gap"].get<uint64_t>());
    }
    if (x["path"] == "/data/sms/mmssms.db") {  // handed to the chat readers (chat/)
      CHECK(a["app"] == "sms");
      CHECK(a["messages"] == 9);
      CHECK(std::filesystem::exists(t / "raw" / "messages.jsonl"));
    }
    if (x.contains("wal")) {
      REQUIRE(a["wal"].is_string());
      CHECK(safehold::test::sha256_file(t / "raw" / a["wal"].get<std::string>()) == x["wal"]);
    }
  }
  // Pass 2 emits nothing pass 1 already produced, and nothing invalid.
  std::set<std::string> seen;
  for (auto& a : report) {
    CHECK(a["valid"] == true);
    if (a["parent"].is_null()) CHECK(seen.insert(a["sha256"].get<std::string>()).second);
  }

  auto summary = json::parse(read_text(t / "raw" / "summary.json"));
  CHECK(summary["artefacts"] == report.size());
  CHECK(summary["bifragment_jpegs"].get<int>() >= 1);
  // The DFXML schema is one of the shared fixtures: validated against it when they are present.
  if (auto fx = safehold::test::fixtures()) {
    must_run("xmllint --noout --schema " + shell_quote((*fx / "dfxml" / "dfxml.xsd").string()) +
             " " + shell_quote((t / "raw" / "dfxml.xml").string()));
  } else {
    WARN("DFXML schema validation skipped: fixtures not present");
  }

  // The same disk as an E01: the same report, byte for byte.
  must_run("ewfacquire -u -q -t " + shell_quote((t / "disk").string()) +
           " -f encase6 -c fast -b 64 -C c1 -D d -E e1 -e x -N n " + shell_quote(disk.string()));
  must_run(safehold_bin() + " carve " + shell_quote((t / "disk.E01").string()) + " -o " +
           shell_quote((t / "e01").string()) + " --json");
  CHECK(read_text(t / "raw" / "report.jsonl") == read_text(t / "e01" / "report.jsonl"));

  // A truncated last E01 segment: what can be read is carved, the damage is recorded, and the
  // exit code is 2 (processed with errors: nothing silently missed).
  std::filesystem::create_directories(t / "seg");
  must_run("ewfacquire -u -q -t " + shell_quote((t / "seg" / "disk").string()) +
           " -f encase6 -c none -S 8M -b 64 -C c1 -D d -E e1 -e x -N n " +
           shell_quote(disk.string()));
  std::filesystem::path last;
  for (auto& e : std::filesystem::directory_iterator(t / "seg"))
    if (last.empty() || e.path().filename() > last.filename()) last = e.path();
  REQUIRE(last.filename() != "disk.E01");
  std::filesystem::resize_file(last, std::filesystem::file_size(last) / 2);
  auto cut = safehold::test::run(safehold_bin() + " carve " +
                                 shell_quote((t / "seg" / "disk.E01").string()) + " -o " +
                                 shell_quote((t / "trunc").string()) + " --json");
  CHECK(cut.exit_code == 2);
  auto trunc = json::parse(read_text(t / "trunc" / "summary.json"));
  CHECK(!trunc["errors"].empty());
  CHECK(trunc["complete"] == false);
  CHECK(!trunc["unreadable"].empty());
  size_t fat_found = 0;
  for (auto& a : lines(t / "trunc" / "report.jsonl")) fat_found += a["fs"] == "fat32";
  CHECK(fat_found >= 8);

  // Pass 1 only: carved artefacts are gone, the others remain.
  must_run(safehold_bin() + " carve " + shell_quote(disk.string()) + " -o " +
           shell_quote((t / "p1").string()) + " --no-unallocated --types media --json");
  for (auto& a : lines(t / "p1" / "report.jsonl")) {
    CHECK(a["state"] != "carved");
    CHECK(a["type"] != "sqlite");
  }
}

TEST_CASE("carve refuses a non-empty output folder, bad types and unreadable images", "[cli]") {
  TempDir t;
  // ext4 made from a folder holding a JPEG whose name carries a control character.
  std::filesystem::create_directories(t / "root");
  must_run("/usr/bin/convert -size 64x48 plasma:fractal " + shell_quote((t / "x.jpg").string()) +
           " && cp " + shell_quote((t / "x.jpg").string()) + " " +
           shell_quote((t / "root" / "weird\x01name.jpg").string()) + " && mke2fs -q -t ext4 -d " +
           shell_quote((t / "root").string()) + " " + shell_quote((t / "fat.img").string()) +
           " 8M");
  std::filesystem::create_directories(t / "out");
  safehold::test::write_text(t / "out" / "keep.txt", "mine");
  auto r = run(safehold_bin() + " carve " + shell_quote((t / "fat.img").string()) + " -o " +
               shell_quote((t / "out").string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("not empty") != std::string::npos);
  r = run(safehold_bin() + " carve " + shell_quote((t / "fat.img").string()) + " -o " +
          shell_quote((t / "o2").string()) + " --types jpeg,exe");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("unknown type 'exe'") != std::string::npos);
  r = run(safehold_bin() + " carve " + shell_quote((t / "missing.E01").string()) + " -o " +
          shell_quote((t / "o3").string()));
  CHECK(r.exit_code == 1);

  must_run(safehold_bin() + " carve " + shell_quote((t / "fat.img").string()) + " -o " +
           shell_quote((t / "out").string()) + " --force --json");
  CHECK(read_text(t / "out" / "keep.txt") == "mine");  // --force replaces only Safehold's outputs
  auto rep = lines(t / "out" / "report.jsonl");
  REQUIRE(rep.size() == 1);
  CHECK(rep[0]["path"] == std::string("/weird\x01name.jpg"));
  CHECK(rep[0]["file"] == "artefacts/jpeg/000001.jpg");
  CHECK(safehold::test::sha256_file(t / "out" / "artefacts/jpeg/000001.jpg") ==
        safehold::test::sha256_file(t / "x.jpg"));
  CHECK(read_text(t / "out" / "dfxml.xml").find("/weird\\x01name.jpg") != std::string::npos);
}
