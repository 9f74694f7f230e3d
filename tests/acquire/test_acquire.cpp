// End-to-end tests of `safehold acquire` / `safehold verify` on generated sources: image files, a
// multi-partition disk on a loop device, bad sectors through an interposed pread (LD_PRELOAD shim
// built here from badread_shim.c), a full destination, SIGKILL and --resume, an 8 TiB sparse file.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acquire/acquire.hpp"
#include "tests/acquire/acquire_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::acq;
using nlohmann::json;
namespace fsys = std::filesystem;

TEST_CASE("image file: hashes, metadata through ewfinfo, record, log, verify", "[acquire]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 24);
  auto r = run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "out") + kMeta);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::string md5 = md5sum(t / "src.raw"), sha1 = sha1sum(t / "src.raw"),
                    sha256 = sha256sum(t / "src.raw");

  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["size"] == 24u << 20);
  CHECK(rec["md5"] == md5);
  CHECK(rec["sha1"] == sha1);
  CHECK(rec["sha256"] == sha256);
  CHECK(rec["read_errors"] == json::array());
  CHECK(rec["source"] == (t / "src.raw").string());
  CHECK(rec["write_block"]["applied"] == false);
  CHECK(rec["status"] == "complete");
  CHECK(rec["chunk_size"] == 32768);
  CHECK(rec["started"].get<std::string>().size() == 20);
  CHECK(rec["finished"].get<std::string>().size() == 20);
  CHECK(rec["image_bytes"].get<uint64_t>() < (16u << 20));  // zeros and text compress

  std::string log = read_text(t / "out.acquire.log");
  CHECK(log.find("MD5:     " + md5) != std::string::npos);
  CHECK(log.find("SHA-256: " + sha256) != std::string::npos);
  CHECK(log.find("No read errors") != std::string::npos);

  must_run("ewfverify -q " + q(t / "out.E01"));
  std::string info = must_run("ewfinfo " + q(t / "out.E01"));
  CHECK(info.find("Case number:\t\tCASE-2026/17") != std::string::npos);
  CHECK(info.find("Evidence number:\tEV 3") != std::string::npos);
  CHECK(info.find("Examiner name:\t\tD. Examiner") != std::string::npos);
  CHECK(info.find("Description:\t\tSeized laptop disk") != std::string::npos);
  CHECK(info.find("Notes:\t\t\tbag 44, sealed") != std::string::npos);
  CHECK(info.find("Software version used:\t0.1.0") != std::string::npos);
  CHECK(info.find("Operating system used:\tLinux") != std::string::npos);
  CHECK(info.find("Acquisition date:") != std::string::npos);
  CHECK(info.find("File format:\t\tEnCase 6") != std::string::npos);
  CHECK(info.find("good (fast) compression") != std::string::npos);
  CHECK(info.find("MD5:\t\t\t" + md5) != std::string::npos);
  CHECK(info.find("SHA1:\t\t\t" + sha1) != std::string::npos);

  auto v = run(safehold_cmd() + " verify --json " + q(t / "out.E01"));
  REQUIRE(v.exit_code == 0);
  json vj = json::parse(v.out);
  CHECK(vj["ok"] == true);
  CHECK(vj["computed"]["sha256"] == sha256);
  CHECK(vj["stored"]["sha256"] == sha256);

  // Never overwrites without --force (exit 1), and overwrites with it.
  auto again = run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "out") + kMeta);
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exists; use --force") != std::string::npos);
  CHECK(run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "out") + kMeta +
            " --force --compression best --hash md5")
            .exit_code == 0);
  CHECK(read_json(t / "out.acquire.json")["md5"] == md5);
  CHECK(read_json(t / "out.acquire.json")["sha256"] == "");
  must_run("ewfverify -q " + q(t / "out.E01"));
}

TEST_CASE("segments, no compression, odd-sized file, --verify, --json", "[acquire]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 12);
  must_run("head -c 1000 /dev/urandom >> " + q(t / "src.raw"));  // not a whole number of sectors
  auto r = run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "out") + kMeta +
               " --compression none --segment-size 4M --verify --json");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fsys::exists(t / "out.E01"));
  CHECK(fsys::exists(t / "out.E02"));
  CHECK(fsys::exists(t / "out.E03"));
  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["padding_bytes"] == 24);
  // The image holds the file padded to whole sectors; the hashes are of that.
  must_run("cp " + q(t / "src.raw") + " " + q(t / "padded") + " && truncate -s " +
           std::to_string((12u << 20) + 1024) + " " + q(t / "padded"));
  CHECK(rec["md5"] == md5sum(t / "padded"));
  CHECK(rec["segments"].size() >= 3);
  // --json: progress events then done and verify lines.
  bool progress = false, done = false, verified = false;
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) {
    json e = json::parse(l);
    if (e["event"] == "progress") progress = true;
    if (e["event"] == "done") done = e["record"]["sha256"] == rec["sha256"];
    if (e["event"] == "verify") verified = e["result"]["ok"] == true;
  }
  CHECK(progress);
  CHECK(done);
  CHECK(verified);
  must_run("ewfverify -q " + q(t / "out.E01"));
}

TEST_CASE("exit codes: bad usage 1, failure 2, verify mismatch 4", "[acquire]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 4);
  // 1: missing metadata, missing source, missing output folder, bad option values.
  CHECK(run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "a") +
            " --case C --evidence E")
            .exit_code == 1);
  auto missing =
      run(safehold_cmd() + " acquire " + q(t / "nope.raw") + " -o " + q(t / "a") + kMeta);
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope.raw: cannot open the source") != std::string::npos);
  CHECK(
      run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "no/such/dir/a") + kMeta)
          .exit_code == 1);
  CHECK(run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "a") + kMeta +
            " --compression zip")
            .exit_code == 1);
  CHECK(run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "a") + kMeta +
            " --hash sha1")
            .exit_code == 1);
  CHECK(run(safehold_cmd() + " verify " + q(t / "src.raw")).exit_code == 1);
  // 2: the library cannot take the chunk count (8 TiB with 32 KiB chunks, forced).
  must_run("truncate -s 8T " + q(t / "huge.raw"));
  auto big = run(safehold_cmd() + " acquire " + q(t / "huge.raw") + " -o " + q(t / "huge") + kMeta +
                 " --sectors-per-chunk 64");
  CHECK(big.exit_code == 2);
  // 4: a corrupted chunk, and a record whose SHA-256 does not match.
  REQUIRE(run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "ok") + kMeta +
              " --compression none")
              .exit_code == 0);
  must_run("cp " + q(t / "ok.E01") + " " + q(t / "bad.E01") + " && cp " + q(t / "ok.acquire.json") +
           " " + q(t / "bad.acquire.json"));
  must_run("printf 'XXXXXXXX' | dd of=" + q(t / "bad.E01") +
           " bs=1 seek=300000 conv=notrunc 2>/dev/null");
  auto bad = run(safehold_cmd() + " verify " + q(t / "bad.E01"));
  CHECK(bad.exit_code == 4);
  CHECK(bad.out.find("VERIFICATION FAILED") != std::string::npos);
  json rec = read_json(t / "ok.acquire.json");
  rec["sha256"] = std::string(64, '0');
  write_text(t / "ok.acquire.json", rec.dump());
  auto mism = run(safehold_cmd() + " verify --json " + q(t / "ok.E01"));
  CHECK(mism.exit_code == 4);
  CHECK(mism.out.find("SHA-256 mismatch") != std::string::npos);
}

TEST_CASE("bad sectors: retried, narrowed to single sectors, zero-filled, recorded (exit 3)",
          "[acquire]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 8);
  const fsys::path src = fsys::canonical(t / "src.raw");
  auto r = run(with_shim(src, "100,5000-5003,16383") + safehold_cmd() + " acquire " + q(src) +
               " -o " + q(t / "out") + kMeta + " --verify");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 3);
  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["read_errors"] ==
        json::parse(
            R"([{"sector":100,"count":1},{"sector":5000,"count":4},{"sector":16383,"count":1}])"));
  CHECK(rec["status"] == "complete_with_read_errors");
  std::string log = read_text(t / "out.acquire.log");
  CHECK(log.find(
            "Read error: sector 100 (1 sector, bytes 51200-51711) unreadable after 3 attempts") !=
        std::string::npos);
  CHECK(log.find("Read error: sectors 5000-5003 (4 sectors") != std::string::npos);
  CHECK(log.find("Read error: sector 16383 (1 sector") != std::string::npos);
  CHECK(log.find("100+1, 5000+4, 16383+1 (6 sectors)") != std::string::npos);
  // Exactly those sectors are zero; every other sector matches the source.
  must_run("cp " + q(src) + " " + q(t / "expected") +
           " && for s in 100 5000 5001 5002 5003 16383; do dd if=/dev/zero of=" +
           q(t / "expected") + " bs=512 seek=$s count=1 conv=notrunc 2>/dev/null; done");
  CHECK(rec["sha256"] == sha256sum(t / "expected"));
  CHECK(rec["md5"] == md5sum(t / "expected"));
  std::string info = must_run("ewfinfo " + q(t / "out.E01"));
  CHECK(info.find("at sector(s): 100 - 100 number: 1") != std::string::npos);
  CHECK(info.find("at sector(s): 5000 - 5003 number: 4") != std::string::npos);
  CHECK(info.find("at sector(s): 16383 - 16383 number: 1") != std::string::npos);
  must_run("ewfverify -q " + q(t / "out.E01"));
}

TEST_CASE("resume after SIGKILL ends with the same hashes", "[acquire][slow]") {
  TempDir t("safehold-acq");
  must_run("head -c 201326592 /dev/urandom > " +
           q(t / "src.raw"));  // 192 MiB that will not compress
  const fsys::path src = fsys::canonical(t / "src.raw");
  // Slowed reads hold the acquisition open; kill it once a segment and a checkpoint exist.
  std::string cmd = with_shim(src, "", 80000) + safehold_cmd() + " acquire " + q(src) + " -o " +
                    q(t / "out") + kMeta + " --segment-size 16M";
  must_run("(" + cmd + " >/dev/null 2>&1 & echo $! > " + q(t / "pid") +
           "; wait) & "
           "for i in $(seq 1 600); do [ -e " +
           q(t / "out.E04") + " ] && grep -q '\"offset\":67108864' " + q(t / "out.acquire.state") +
           " 2>/dev/null && break; sleep 0.1; done; kill -9 $(cat " + q(t / "pid") + "); wait");
  REQUIRE(fsys::exists(t / "out.acquire.state"));
  REQUIRE(!fsys::exists(t / "out.acquire.json.tmp"));
  CHECK(read_text(t / "out.acquire.log").find("Finished") == std::string::npos);
  auto r = run(safehold_cmd() + " acquire " + q(src) + " -o " + q(t / "out") + kMeta +
               " --resume --verify");
  INFO(r.out << r.err << read_text(t / "out.acquire.log"));
  REQUIRE(r.exit_code == 0);
  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["md5"] == md5sum(src));
  CHECK(rec["sha1"] == sha1sum(src));
  CHECK(rec["sha256"] == sha256sum(src));
  CHECK(rec["resumed"].size() == 1);
  // The resumed part keeps the segment size of the interrupted run.
  REQUIRE(rec["segments"].size() >= 12);
  for (size_t i = 0; i + 1 < rec["segments"].size(); ++i)
    CHECK(rec["segments"][i]["size"].get<uint64_t>() <= (17u << 20));
  CHECK(read_text(t / "out.acquire.log").find("Resuming: the image holds ") != std::string::npos);
  CHECK(!fsys::exists(t / "out.acquire.state"));
  must_run("ewfverify -q " + q(t / "out.E01"));
}

TEST_CASE("resuming an attempt killed before its first segment had a header starts over",
          "[acquire]") {
  TempDir t("safehold-acq");
  must_run("head -c 3145728 /dev/urandom > " + q(t / "src.raw"));
  const fsys::path src = fsys::canonical(t / "src.raw");
  // What a SIGKILL right after the start leaves: an empty first segment and Safehold's resume
  // state.
  write_text(t / "out.E01", "");
  write_text(t / "out.acquire.state", "{\"version\": 1}");
  auto r = run(safehold_cmd() + " acquire " + q(src) + " -o " + q(t / "out") + kMeta +
               " --resume --verify");
  INFO(r.out << r.err << read_text(t / "out.acquire.log"));
  REQUIRE(r.exit_code == 0);
  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["md5"] == md5sum(src));
  CHECK(rec["sha256"] == sha256sum(src));
  CHECK(rec["resumed"].empty());
  CHECK(
      read_text(t / "out.acquire.log")
          .find("The interrupted image held no data yet (0 bytes, no EWF header): starting over") !=
      std::string::npos);
  CHECK(!fsys::exists(t / "out.acquire.state"));
  must_run("ewfverify -q " + q(t / "out.E01"));
  // Without --resume, the same leftovers are refused as before (nothing is overwritten silently).
  write_text(t / "b.E01", "");
  write_text(t / "b.acquire.state", "{\"version\": 1}");
  auto r2 = run(safehold_cmd() + " acquire " + q(src) + " -o " + q(t / "b") + kMeta);
  CHECK(r2.exit_code == 1);
  CHECK(fsys::exists(t / "b.acquire.state"));
}

TEST_CASE("full destination stops cleanly and resumes after space is freed", "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  must_run("head -c 33554432 /dev/urandom > " + q(t / "src.raw"));
  fsys::create_directories(t / "dst");
  must_run("mount -t tmpfs -o size=12m safeholdtest " + q(t / "dst"));
  struct Unmount {
    fsys::path p;
    ~Unmount() { run("umount " + shell_quote(p.string())); }
  } unmount{t / "dst"};
  auto r = run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "dst/out") + kMeta +
               " --segment-size 4M");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("the destination is full (no space left on device); free space and continue "
                   "with --resume") != std::string::npos);
  CHECK(read_text(t / "dst/out.acquire.log").find("the image needs at most 32.6 MiB") !=
        std::string::npos);
  must_run("mount -o remount,size=64m " + q(t / "dst"));
  auto r2 = run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / "dst/out") +
                kMeta + " --resume");
  INFO(r2.out << r2.err);
  REQUIRE(r2.exit_code == 0);
  CHECK(read_json(t / "dst/out.acquire.json")["sha256"] == sha256sum(t / "src.raw"));
  must_run("ewfverify -q " + q(t / "dst/out.E01"));
}

TEST_CASE("8 TiB sparse source starts with a larger chunk", "[acquire][slow]") {
  TempDir t("safehold-acq");
  must_run("truncate -s 8T " + q(t / "huge.raw"));
  CHECK(safehold::acquire::choose_sectors_per_chunk(8ull << 40, 512) == 256);
  CHECK(safehold::acquire::choose_sectors_per_chunk(1ull << 30, 512) == 64);
  // Stop it (SIGTERM: a clean, resumable stop) once it has written data.
  must_run("(" + safehold_cmd() + " acquire " + q(t / "huge.raw") + " -o " + q(t / "huge") + kMeta +
           " --json > " + q(t / "events") + " 2>&1 & echo $! > " + q(t / "pid") +
           "; wait) & "
           "for i in $(seq 1 600); do grep -q '\"offset\":67108864' " +
           q(t / "huge.acquire.state") +
           " 2>/dev/null && break; sleep 0.1; done; kill -TERM $(cat " + q(t / "pid") + "); wait");
  std::string log = read_text(t / "huge.acquire.log");
  INFO(log);
  CHECK(log.find("Chunk size 131072 bytes (256 sectors): the source has 8796093022208 bytes") !=
        std::string::npos);
  CHECK(log.find("interrupted; the acquisition can be continued with --resume") !=
        std::string::npos);
  json rec = read_json(t / "huge.acquire.json");
  CHECK(rec["chunk_size"] == 131072);
  CHECK(rec["status"] == "failed");
  CHECK(fsys::file_size(t / "huge.E01") > 0);
  CHECK(read_text(t / "events").find("\"event\":\"progress\"") != std::string::npos);
}

TEST_CASE("loop device: write-blocked, hashes equal the device, unchanged, TSK opens it",
          "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  Loop* loop = nullptr;
  std::unique_ptr<Loop> holder;
  make_disk(t, t / "disk.img", loop, holder);
  const std::string dev = loop->dev();
  const std::string before = sha256sum(dev);
  const std::string md5 = md5sum(dev), sha1 = sha1sum(dev);

  // Hold the acquisition with slowed reads; a write to the device must fail meanwhile.
  must_run("(" + with_shim(dev, "", 150000) + safehold_cmd() + " acquire " + dev + " -o " +
           q(t / "img") + kMeta + " >/dev/null 2>&1; echo $? > " + q(t / "rc") +
           ") & "
           "for i in $(seq 1 600); do grep -q 'Imaging' " +
           q(t / "img.acquire.log") +
           " 2>/dev/null && break; sleep 0.1; done; "
           "if dd if=/dev/zero of=" +
           dev +
           " bs=512 count=1 seek=10 conv=notrunc oflag=direct 2>/dev/null; then echo "
           "WRITE-OK > " +
           q(t / "write") + "; else echo WRITE-FAILED > " + q(t / "write") +
           "; fi; "
           "if dd if=/dev/zero of=" +
           loop->part(2) +
           " bs=512 count=1 conv=notrunc oflag=direct 2>/dev/null; then echo "
           "WRITE-OK >> " +
           q(t / "write") + "; else echo WRITE-FAILED >> " + q(t / "write") +
           "; fi; "
           "cp " +
           q(t / "img.acquire.log") + " " + q(t / "log-during") + "; wait");
  CHECK(read_text(t / "write") == "WRITE-FAILED\nWRITE-FAILED\n");
  CHECK(read_text(t / "log-during").find("Finished") == std::string::npos);  // it was still running
  CHECK(read_text(t / "rc") == "0\n");

  json rec = read_json(t / "img.acquire.json");
  CHECK(rec["md5"] == md5);
  CHECK(rec["sha1"] == sha1);
  CHECK(rec["sha256"] == before);
  CHECK(rec["write_block"]["applied"] == true);
  CHECK(rec["write_block"]["devices"].size() == 3);
  CHECK(rec["device"]["model"] == "Linux loop device");
  CHECK(rec["device"]["hpa_dco"].get<std::string>().find("not applicable") == 0);
  CHECK(sha256sum(dev) == before);
  CHECK(must_run("blockdev --getro " + dev) == "0\n");  // returned as found
  std::string log = read_text(t / "img.acquire.log");
  CHECK(log.find("Write block: BLKROSET on " + dev +
                 " (was read-write), BLKROGET confirms read-only") != std::string::npos);
  CHECK(log.find("Write block: BLKROSET on " + dev + "p2") != std::string::npos);

  std::string mmls = must_run("mmls " + q(t / "img.E01"));
  CHECK(mmls.find("0000043008") != std::string::npos);
  std::string fls = must_run("fls -o 43008 " + q(t / "img.E01"));
  CHECK(fls.find("photo.bin") != std::string::npos);
  CHECK(fls.find("numbers.txt") != std::string::npos);
  CHECK(must_run("ewfinfo " + q(t / "img.E01")).find("Is physical:\t\tyes") != std::string::npos);

  // A partition alone is acquired too, and write-blocks its whole disk.
  auto p = run(safehold_cmd() + " acquire " + loop->part(1) + " -o " + q(t / "p1") + kMeta);
  INFO(p.err);
  CHECK(p.exit_code == 0);
  CHECK(read_json(t / "p1.acquire.json")["md5"] == md5sum(loop->part(1)));
  CHECK(sha256sum(dev) == before);
}

TEST_CASE("loop device: a writable mount is refused, a read-only one allowed", "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  Loop* loop = nullptr;
  std::unique_ptr<Loop> holder;
  make_disk(t, t / "disk.img", loop, holder);
  fsys::create_directories(t / "mnt");
  must_run("mount " + loop->part(2) + " " + q(t / "mnt"));
  auto r = run(safehold_cmd() + " acquire " + loop->dev() + " -o " + q(t / "img") + kMeta);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(loop->dev() + "p2 is mounted writable on " + (t / "mnt").string()) !=
        std::string::npos);
  CHECK(!fsys::exists(t / "img.E01"));
  CHECK(must_run("blockdev --getro " + loop->dev()) == "0\n");  // nothing left changed
  must_run("umount " + q(t / "mnt") + " && mount -o ro " + loop->part(2) + " " + q(t / "mnt"));
  auto ok = run(safehold_cmd() + " acquire " + loop->dev() + " -o " + q(t / "img") + kMeta);
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(read_text(t / "img.acquire.log").find("Mounted read-only (allowed)") != std::string::npos);
  must_run("umount " + q(t / "mnt"));
}

TEST_CASE(
    "loop devices read with O_DIRECT: odd sizes and 4096-byte sectors give the device's hashes",
    "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  // 5 MiB + 7 sectors with 512-byte sectors (not a whole number of 4096-byte pages, chunks or
  // blocks), and 6 MiB + 3 pages with 4096-byte sectors.
  struct Dev {
    const char* name;
    uint64_t bytes;
    int sector;
  };
  for (Dev d :
       {Dev{"odd512", (5u << 20) + 7 * 512, 512}, Dev{"odd4k", (6u << 20) + 3 * 4096, 4096}}) {
    INFO(d.name);
    const fsys::path img = t / (std::string(d.name) + ".img");
    make_source(img, 8);
    must_run("truncate -s " + std::to_string(d.bytes) + " " + q(img));
    const std::string dev =
        first_word(must_run("losetup -f --show -b " + std::to_string(d.sector) + " " + q(img)));
    struct Detach {
      std::string dev;
      ~Detach() { run("losetup -d " + dev); }
    } detach{dev};
    const std::string md5 = md5sum(dev), sha1 = sha1sum(dev), sha256 = sha256sum(dev);
    REQUIRE(md5 == md5sum(img));
    for (const char* mode : {"auto", "off"}) {
      INFO(mode);
      const fsys::path out = t / (std::string(d.name) + "-" + mode);
      auto r = run(safehold_cmd() + " acquire " + dev + " -o " + q(out) + kMeta + " --direct " +
                   mode + " --verify");
      INFO(r.out << r.err);
      REQUIRE(r.exit_code == 0);
      json rec = read_json(out.string() + ".acquire.json");
      CHECK(rec["direct_io"] == (std::string(mode) == "auto"));
      CHECK(rec["size"] == d.bytes);
      CHECK(rec["sector_size"] == d.sector);
      CHECK(rec["md5"] == md5);
      CHECK(rec["sha1"] == sha1);
      CHECK(rec["sha256"] == sha256);
      const std::string log = read_text(out.string() + ".acquire.log");
      CHECK((log.find("Reading with O_DIRECT (no page cache), " + std::to_string(d.sector) +
                      "-byte alignment") != std::string::npos) == (std::string(mode) == "auto"));
      must_run("ewfverify -q " + q(out.string() + ".E01"));
    }
  }
}

TEST_CASE("O_DIRECT reads of a device narrow read errors down to single sectors",
          "[acquire][root]") {
  if (skip_unless_root()) return;
  TempDir t("safehold-acq");
  make_source(t / "disk.img", 8);
  const std::string dev = first_word(must_run("losetup -f --show " + q(t / "disk.img")));
  struct Detach {
    std::string dev;
    ~Detach() { run("losetup -d " + dev); }
  } detach{dev};
  auto r = run(with_shim(dev, "100,5000-5003,16383") + safehold_cmd() + " acquire " + dev + " -o " +
               q(t / "out") + kMeta);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 3);
  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["direct_io"] == true);
  CHECK(rec["read_errors"] ==
        json::parse(
            R"([{"sector":100,"count":1},{"sector":5000,"count":4},{"sector":16383,"count":1}])"));
  must_run("cp " + q(t / "disk.img") + " " + q(t / "expected") +
           " && for s in 100 5000 5001 5002 5003 16383; do dd if=/dev/zero of=" +
           q(t / "expected") + " bs=512 seek=$s count=1 conv=notrunc 2>/dev/null; done");
  CHECK(rec["md5"] == md5sum(t / "expected"));
  CHECK(rec["sha256"] == sha256sum(t / "expected"));
  must_run("ewfverify -q " + q(t / "out.E01"));
}

TEST_CASE("a source that refuses O_DIRECT reads is read through the page cache, logged",
          "[acquire]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 8);
  const fsys::path src = fsys::canonical(t / "src.raw");
  auto r = run("SAFEHOLD_SHIM_EINVAL_DIRECT=1 " + with_shim(src, "") + safehold_cmd() +
               " acquire " + q(src) + " -o " + q(t / "out") + kMeta + " --direct on");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json rec = read_json(t / "out.acquire.json");
  CHECK(rec["direct_io"] == false);
  CHECK(rec["md5"] == md5sum(src));
  CHECK(rec["sha256"] == sha256sum(src));
  const std::string log = read_text(t / "out.acquire.log");
  // Either the filesystem refused O_DIRECT at open, or the first read was refused (the shim).
  CHECK((log.find("O_DIRECT read refused at byte 0 (Invalid argument): reading through the page "
                  "cache from here on") != std::string::npos ||
         log.find("O_DIRECT is not available here") != std::string::npos));
  must_run("ewfverify -q " + q(t / "out.E01"));
}

TEST_CASE("image file with --direct on: same hashes as through the page cache, padding included",
          "[acquire]") {
  TempDir t("safehold-acq");
  make_source(t / "src.raw", 8);
  must_run("head -c 1234 /dev/urandom >> " + q(t / "src.raw"));  // neither whole sectors nor pages
  must_run("cp " + q(t / "src.raw") + " " + q(t / "padded") + " && truncate -s " +
           std::to_string((8u << 20) + 1536) + " " + q(t / "padded"));
  for (const char* mode : {"on", "off"}) {
    INFO(mode);
    auto r = run(safehold_cmd() + " acquire " + q(t / "src.raw") + " -o " + q(t / mode) + kMeta +
                 " --direct " + mode);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    json rec = read_json(t / (std::string(mode) + ".acquire.json"));
    CHECK(rec["padding_bytes"] == 302);
    CHECK(rec["md5"] == md5sum(t / "padded"));
    CHECK(rec["sha1"] == sha1sum(t / "padded"));
    CHECK(rec["sha256"] == sha256sum(t / "padded"));
    if (std::string(mode) == "off") CHECK(rec["direct_io"] == false);
    must_run("ewfverify -q " + q(t / (std::string(mode) + ".E01")));
  }
}
