// Regression tests for issue 24's acquire problems: an output that names the source (problem 6),
// the write block after SIGKILL and --resume and loop devices stacked on the source (problem 8),
// and resume from the last checkpoint inside the first segment (problem 9).
#include <catch2/catch.hpp>
#include <random>

#include "tests/acquire/acquire_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::acq;
using nlohmann::json;
namespace fsys = std::filesystem;

namespace {

// Starts `cmd` in the background, waits until `ready` (a shell test) holds, waits `extra_ms`
// more, then kills it with SIGKILL. The pid goes through a file so that the kill reaches the
// acquisition itself, not a shell.
void run_and_kill(const TempDir& t, const std::string& cmd, const std::string& ready,
                  int extra_ms = 0) {
  must_run("(" + cmd + " >/dev/null 2>&1 & echo $! > " + q(t / "pid") +
           "; wait) & for i in $(seq 1 600); do " + ready +
           " 2>/dev/null && break; sleep 0.05; done; sleep " + std::to_string(extra_ms / 1000.0) +
           "; kill -9 $(cat " + q(t / "pid") + "); wait");
}

// The latest checkpoint in a resume state (0 when there is none).
uint64_t latest_checkpoint(const fsys::path& state) {
  if (!fsys::exists(state)) return 0;
  uint64_t best = 0;
  for (auto& s : read_json(state).value("snapshots", json::array()))
    best = std::max(best, s.value("offset", uint64_t{0}));
  return best;
}

// N in the last "Resuming: the image holds N bytes" line of a log.
uint64_t resumed_from(const std::string& log) {
  const std::string key = "Resuming: the image holds ";
  size_t at = log.rfind(key);
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(log.substr(at + key.size()));
}

}  // namespace

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

TEST_CASE(
    "SIGKILL during a write-blocked acquisition, then --resume, restores the original "
    "read-only flags of the device and its partitions (issue 24)",
    "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  Loop* loop = nullptr;
  std::unique_ptr<Loop> holder;
  make_disk(t, t / "disk.img", loop, holder);
  const std::string dev = loop->dev(), p1 = loop->part(1), p2 = loop->part(2);
  const std::string md5 = md5sum(dev), sha256 = sha256sum(dev);
  for (const auto& d : {dev, p1, p2}) REQUIRE(must_run("blockdev --getro " + d) == "0\n");

  run_and_kill(t,
               with_shim(dev, "", 250000) + safehold_cmd() + " acquire " + dev + " -o " +
                   q(t / "img") + kMeta,
               "grep -q 'Imaging' " + q(t / "img.acquire.log"), 300);
  // What the kill leaves: the device still write-blocked, its original flags in the state.
  REQUIRE(must_run("blockdev --getro " + dev) == "1\n");
  json state = read_json(t / "img.acquire.state");
  CHECK(state["write_block_original"].size() == 3);
  for (auto& f : state["write_block_original"]) CHECK(f["read_only"] == false);

  auto r = run(safehold_cmd() + " acquire " + dev + " -o " + q(t / "img") + kMeta + " --resume");
  const std::string log = read_text(t / "img.acquire.log");
  INFO(r.out << r.err << log);
  REQUIRE(r.exit_code == 0);
  for (const auto& d : {dev, p1, p2}) {
    INFO(d);
    CHECK(must_run("blockdev --getro " + d) == "0\n");
  }
  CHECK(log.find("Write block: BLKROSET on " + dev +
                 " (was read-write before the interrupted acquisition, found read-only), "
                 "BLKROGET confirms read-only") != std::string::npos);
  CHECK(log.find("Acquisition over: " + dev +
                 " returned to read-write as it was before the interrupted acquisition") !=
        std::string::npos);
  CHECK(log.find("(was read-only)") == std::string::npos);
  json rec = read_json(t / "img.acquire.json");
  CHECK(rec["md5"] == md5);
  CHECK(rec["sha256"] == sha256);
  for (auto& d : rec["write_block"]["devices"]) CHECK(d["was_read_only"] == false);
  CHECK(sha256sum(dev) == sha256);
  must_run("ewfverify -q " + q(t / "img.E01"));
}

TEST_CASE("a writable mount through a loop device stacked on a partition is refused (issue 24)",
          "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  Loop* loop = nullptr;
  std::unique_ptr<Loop> holder;
  make_disk(t, t / "disk.img", loop, holder);
  const std::string stacked = first_word(must_run("losetup -f --show " + loop->part(2)));
  struct Detach {
    std::string dev;
    fsys::path mnt;
    ~Detach() { run("umount " + shell_quote(mnt.string()) + " 2>/dev/null; losetup -d " + dev); }
  } detach{stacked, t / "mnt"};
  fsys::create_directories(t / "mnt");
  must_run("mount " + stacked + " " + q(t / "mnt"));
  auto r = run(safehold_cmd() + " acquire " + loop->dev() + " -o " + q(t / "img") + kMeta);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const std::string p2 = fsys::path(loop->part(2)).filename().string();
  CHECK(r.err.find(stacked + " (stacked on /dev/" + p2 + ") is mounted writable on " +
                   (t / "mnt").string()) != std::string::npos);
  CHECK(!fsys::exists(t / "img.E01"));
  CHECK(must_run("blockdev --getro " + loop->dev()) == "0\n");
  // Mounted read-only through the same loop device: allowed, and said so.
  must_run("umount " + q(t / "mnt") + " && mount -o ro " + stacked + " " + q(t / "mnt"));
  auto ok = run(safehold_cmd() + " acquire " + loop->dev() + " -o " + q(t / "img") + kMeta);
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(read_text(t / "img.acquire.log")
            .find("Mounted read-only (allowed): " + stacked + " (stacked on /dev/" + p2 + ")") !=
        std::string::npos);
}

TEST_CASE(
    "a source under one segment resumes from its last checkpoint, killed at seeded random "
    "points (issue 24: --resume re-imaged from byte 0)",
    "[acquire][slow]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 160);  // random, zeros and text: stored and compressed chunks
  const fsys::path src = fsys::canonical(t / "src.raw");
  auto straight = run(safehold_cmd() + " acquire " + q(src) + " -o " + q(t / "straight") + kMeta);
  REQUIRE(straight.exit_code == 0);
  const json want = read_json(t / "straight.acquire.json");
  REQUIRE(want["md5"] == md5sum(src));
  REQUIRE(want["sha256"] == sha256sum(src));

  int resumed_after_checkpoint = 0;
  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    // Kill once the state holds a checkpoint at `after` MiB (0: once imaging began), plus a
    // seeded 0-400 ms: anywhere inside the first (2 GiB) segment, between or right after
    // checkpoints (150 ms per 4 MiB read: 6 s in all).
    const unsigned after = seed % 3 * 64;
    const int extra_ms = std::uniform_int_distribution<int>(0, 400)(rng);
    INFO("killed after the checkpoint at " << after << " MiB + " << extra_ms << " ms");
    const fsys::path out = t / ("run" + std::to_string(seed));
    const fsys::path state = out.string() + ".acquire.state";
    const std::string ready =
        after == 0
            ? "grep -q 'Imaging' " + q(out.string() + ".acquire.log")
            : "grep -q '\"offset\":" + std::to_string(uint64_t{after} << 20) + "' " + q(state);
    run_and_kill(t,
                 with_shim(src, "", 150000) + safehold_cmd() + " acquire " + q(src) + " -o " +
                     q(out) + kMeta,
                 ready, extra_ms);
    REQUIRE(fsys::exists(state));
    const uint64_t checkpoint = latest_checkpoint(state);
    CHECK(checkpoint >= (uint64_t{after} << 20));
    auto r = run(safehold_cmd() + " acquire " + q(src) + " -o " + q(out) + kMeta + " --resume");
    const std::string log = read_text(out.string() + ".acquire.log");
    INFO(r.out << r.err << log);
    REQUIRE(r.exit_code == 0);
    // Resumed from the last checkpoint, not from byte 0. Killed before its first chunk, the
    // attempt is started over (its lone segment holds no EWF header).
    const bool started_over = log.find("no EWF header): starting over") != std::string::npos;
    if (checkpoint == 0)
      CHECK((resumed_from(log) == 0 || started_over));
    else
      CHECK(resumed_from(log) == checkpoint);
    if (checkpoint > 0) {
      ++resumed_after_checkpoint;
      CHECK(log.find("Imaging 167772160 bytes (160.0 MiB) from byte " + std::to_string(checkpoint) +
                     "\n") != std::string::npos);
    }
    const json rec = read_json(out.string() + ".acquire.json");
    CHECK(rec["md5"] == want["md5"]);
    CHECK(rec["sha1"] == want["sha1"]);
    CHECK(rec["sha256"] == want["sha256"]);
    CHECK(rec["resumed"].size() == (started_over ? 0u : 1u));
    must_run("ewfverify -q " + q(out.string() + ".E01"));
    const std::string info = must_run("ewfinfo " + q(out.string() + ".E01"));
    CHECK(info.find("MD5:\t\t\t" + want["md5"].get<std::string>()) != std::string::npos);
    fsys::remove_all(t / "pid");
  }
  CHECK(resumed_after_checkpoint == 4);
}
