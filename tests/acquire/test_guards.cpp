// Regression tests for issue 24's acquire problems: an output that names the source (problem 6),
// the write block after SIGKILL and --resume and loop devices stacked on the source (problem 8),
// and resume from the last checkpoint inside the first segment (problem 9).
#include <catch2/catch.hpp>

#include "tests/acquire/acquire_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::acq;
using nlohmann::json;
namespace fsys = std::filesystem;

TEST_CASE(
    "an output that names the source is refused, and the source is untouched (issue 24: "
    "acquire --force deleted its own source)",
    "[acquire]") {
  TempDir t("safehold-acq");
  // The source carries an output name: `-o out` with --force used to delete out.E01 first.
  must_run("head -c 3145728 /dev/urandom > " + q(t / "out.E01"));
  const std::string before = sha256sum(t / "out.E01");
  for (const std::string out : {"out", "out.E01"}) {
    INFO(out);
    auto r = run(safehold_cmd() + " acquire " + q(t / "out.E01") + " -o " + q(t / out) + kMeta +
                 " --force");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("is the source itself, and acquiring would overwrite or delete it; choose "
                     "another output base (-o)") != std::string::npos);
    REQUIRE(fsys::exists(t / "out.E01"));
    CHECK(sha256sum(t / "out.E01") == before);
  }
  // Through a relative path, another segment name and the record's name: refused as well.
  for (const std::string name : {"img.E02", "img.EAB", "img.acquire.json"}) {
    INFO(name);
    must_run("cp " + q(t / "out.E01") + " " + q(t / name));
    auto r = run("cd " + q(t.path()) + " && " + safehold_cmd() + " acquire " + name +
                 " -o img --force" + kMeta);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("is the source itself") != std::string::npos);
    CHECK(sha256sum(t / name) == before);
    fsys::remove(t / name);
  }
  // The same file under another name: a hard link as the log (appended to), a symbolic link as a
  // segment (written through).
  must_run("cp " + q(t / "out.E01") + " " + q(t / "data.raw") + " && ln " + q(t / "data.raw") +
           " " + q(t / "h.acquire.log") + " && ln -s data.raw " + q(t / "s.E01"));
  for (const std::string out : {"h", "s"}) {
    INFO(out);
    auto r = run(safehold_cmd() + " acquire " + q(t / "data.raw") + " -o " + q(t / out) + kMeta +
                 " --force");
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("is the source itself") != std::string::npos);
    CHECK(sha256sum(t / "data.raw") == before);
  }
  // A source beside its output under another name is imaged as before.
  auto ok = run(safehold_cmd() + " acquire " + q(t / "data.raw") + " -o " + q(t / "data") + kMeta);
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(read_json(t / "data.acquire.json")["sha256"] == before);
  must_run("ewfverify -q " + q(t / "data.E01"));
}
