// Issue 23 ("Lab-ready") end to end on the `safehold` binary: no output file replaced without
// --force, progress lines when stdout is a file, the `pdq` exit code the README documents, `info`
// on the formats its --help names, and the EWF "Software:" line.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/common/support.hpp"

using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::write_text;
namespace fsys = std::filesystem;

namespace {

std::string bin() {
  return shell_quote(safehold::test::safehold_binary());
}
std::string q(const fsys::path& p) {
  return shell_quote(p.string());
}

}  // namespace

TEST_CASE("lab-ready: no output file is replaced without --force", "[tools]") {
  safehold::test::TempDir t("safehold-force");
  write_text(t / "old.json", "keep me");
  write_text(t / "old.tar.zst", "keep me");
  write_text(t / "old.csv", "keep me");
  write_text(t / "old.set", "keep me");
  write_text(t / "list.txt", "d41d8cd98f00b204e9800998ecf8427e\n");
  // A carve output folder (export names a bad input before refusing to replace its output).
  std::filesystem::create_directories(t / "carve");
  write_text(t / "carve" / "report.jsonl", "");
  struct Case {
    std::string command, file;
  };
  must_run(bin() + " queue init --db " + q(t / "q.db"));
  for (const Case& c :
       {Case{"export --vics " + q(t / "old.json") + " " + q(t / "carve"), "old.json"},
        Case{"export --bundle " + q(t / "old.tar.zst") + " " + q(t.path()), "old.tar.zst"},
        Case{"queue export --csv " + q(t / "old.csv") + " --db " + q(t / "q.db"), "old.csv"},
        Case{"hashset import --format text " + q(t / "list.txt") + " -o " + q(t / "old.set"),
             "old.set"}}) {
    INFO(c.command);
    auto r = run(bin() + " " + c.command);
    CHECK(r.exit_code == 1);
    CHECK(r.err == "safehold: " + (t / c.file).string() + ": exists (use --force to replace it)\n");
    CHECK(read_text(t / c.file) == "keep me");
  }
  // With --force the CSV export replaces it.
  must_run(bin() + " queue export --csv " + q(t / "old.csv") + " --force --db " + q(t / "q.db"));
  CHECK(read_text(t / "old.csv") != "keep me");
}

TEST_CASE("lab-ready: acquire prints progress lines when stdout is a file", "[tools]") {
  // 200 MiB (4 MiB blocks, a report every 5 MiB) and 6 MiB (blocks and reports of 1/40 of it).
  const std::string size = GENERATE(std::string("209715200"), std::string("6291456"));
  INFO("source of " << size << " bytes");
  safehold::test::TempDir t("safehold-progress");
  must_run("head -c " + size + " /dev/urandom > " + q(t / "src.raw"));
  must_run(bin() + " acquire " + q(t / "src.raw") + " -o " + q(t / "img") +
           " --case C --evidence E --examiner tester " + "> " + q(t / "out.log") + " 2>" +
           q(t / "err.log"));
  std::istringstream in(read_text(t / "out.log"));
  std::string line;
  std::vector<int> percents;
  while (std::getline(in, line))
    if (line.rfind("acquire: ", 0) == 0) {
      percents.push_back(std::stoi(line.substr(9)));
      CHECK(line.find("/s ETA ") != std::string::npos);  // rate and time left on every line
    }
  INFO(read_text(t / "out.log"));
  REQUIRE(!percents.empty());
  CHECK(percents.back() == 100);
  // A line at least every 5 %: acquire reports progress at every fortieth of the source
  // (blocks are no larger), so each 5 % band has a line whatever the machine's speed. Counted on
  // the percent values, never on time.
  INFO("percents: " << [&] {
    std::string s;
    for (int p : percents) s += std::to_string(p) + " ";
    return s;
  }());
  CHECK(percents.front() < 10);
  int last = 0;
  for (int p : percents) {
    CHECK(p > last);
    CHECK(p / 5 <= last / 5 + 1);  // no 5 % band skipped
    last = p;
  }
  CHECK(percents.size() >= 20);
  CHECK(read_text(t / "out.log").find("MD5:") != std::string::npos);
}

TEST_CASE("lab-ready: pdq exits 1 for an unreadable image, as the README says", "[tools]") {
  safehold::test::TempDir t("safehold-pdq");
  write_text(t / "bad.jpg", "not a picture");
  auto r = run(bin() + " pdq " + q(t / "bad.jpg"));
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind("safehold: " + (t / "bad.jpg").string() + ": ", 0) == 0);
  const std::string readme = read_text(fsys::path(safehold::test::source_dir()) / "README.md");
  CHECK(readme.find("is then 1 (an unreadable input)") != std::string::npos);
}

TEST_CASE("lab-ready: info opens the formats its --help names, EWF Software line", "[tools]") {
  safehold::test::TempDir t("safehold-info");
  auto help = must_run(bin() + " info --help");
  CHECK(help.find("(E01, raw, split raw, QCOW2, VHD, VHDX, VMDK)") != std::string::npos);
  must_run("truncate -s 8M " + q(t / "fat.raw") + " && mkfs.vfat " + q(t / "fat.raw") +
           " >/dev/null");
  if (run("command -v qemu-img").exit_code == 0) {
    for (const char* fmt : {"vmdk", "vpc"}) {
      INFO(fmt);
      const fsys::path img = t / (std::string("disk.") + fmt);
      must_run("qemu-img convert -O " + std::string(fmt) + " " + q(t / "fat.raw") + " " + q(img));
      auto j = nlohmann::json::parse(must_run(bin() + " info --json " + q(img)));
      CHECK(j["format"] == (std::string(fmt) == "vpc" ? "vhd" : "vmdk"));
      REQUIRE(j["filesystems"].size() == 1);
    }
  } else {
    WARN("qemu-img not installed: VMDK and VHD not checked");
  }
  // A FAT volume made without a label has none (not TSK's "$EMPTY_VOLUME_LABEL").
  auto fat = nlohmann::json::parse(must_run(bin() + " info --json " + q(t / "fat.raw")));
  REQUIRE(fat["filesystems"].size() == 1);
  CHECK(fat["filesystems"][0].value("label", "") != "$EMPTY_VOLUME_LABEL");
  CHECK(must_run(bin() + " info " + q(t / "fat.raw")).find("$EMPTY_VOLUME_LABEL") ==
        std::string::npos);
  // The Software line of an E01 made by ewfacquire: one space between name and version, none
  // before.
  if (run("command -v ewfacquire").exit_code == 0) {
    must_run("ewfacquire -u -q -t " + q(t / "ewf") + " -C C1 -D d -e x -E E1 -N n " +
             q(t / "fat.raw") + " >/dev/null 2>&1");
    auto text = must_run(bin() + " info " + q(t / "ewf.E01"));
    auto at = text.find("  Software:");
    REQUIRE(at != std::string::npos);
    std::string line = text.substr(at, text.find('\n', at) - at);
    INFO(line);
    REQUIRE(line.size() > 24);
    CHECK(line[24] != ' ');
    CHECK(line.find("  ", 24) == std::string::npos);
  }
}

TEST_CASE("lab-ready: carve's progress lines are truthful and end on the summary's count",
          "[tools]") {
  safehold::test::TempDir t("safehold-carve-progress");
  const fsys::path img = t / "fat.raw", pic = t / "p.jpg";
  must_run("convert -size 320x240 gradient:'#102030'-'#a0b0c0' " + q(pic) + " && truncate -s 32M " +
           q(img) + " && mkfs.vfat -n SRC " + q(img) +
           " >/dev/null && MTOOLS_SKIP_CHECK=1 mcopy -i " + q(img) + " " + q(pic) +
           " ::/a.jpg && MTOOLS_SKIP_CHECK=1 mcopy -i " + q(img) + " " + q(pic) + " ::/b.jpg");
  must_run(bin() + " carve " + q(img) + " -o " + q(t / "out") + " > " + q(t / "out.log"));
  std::istringstream in(read_text(t / "out.log"));
  std::string line, last_progress;
  std::map<std::string, int> last_pct;
  std::string summary;
  while (std::getline(in, line)) {
    if (line.rfind("carve ", 0) == 0) {
      const std::string phase = line.substr(6, line.find(':') - 6);
      const int pct = std::stoi(line.substr(line.find(": ") + 2));
      CHECK(pct >= last_pct[phase]);  // never goes back within a phase
      CHECK(pct <= 100);
      last_pct[phase] = pct;
      last_progress = line;
    } else if (line.rfind("Artefacts: ", 0) == 0) {
      summary = line.substr(11, line.find(' ', 11) - 11);
    }
  }
  INFO(read_text(t / "out.log"));
  REQUIRE(!summary.empty());
  // The last progress line is the reports phase, complete, with the summary's count.
  CHECK(last_progress.rfind("carve reports: 100% ", 0) == 0);
  CHECK(last_progress.substr(last_progress.rfind(" artefacts ") + 11) == summary);
}
