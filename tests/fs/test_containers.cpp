// fs/: issue 18 item 1, disk containers read through libqcow, libvhdi and libvmdk. A raw disk
// with an ext4 filesystem is made at test time and converted by qemu-img to QCOW2, VHDX, VHD
// (dynamic and fixed) and VMDK (monolithic sparse, split sparse, flat, stream-optimized); every
// command must see the media: `hash` gives the raw disk's SHA-256 (not the container file's),
// `ls` the raw disk's listing, `carve` the raw disk's artefacts. Differencing disks (QCOW2 and
// VMDK with a backing file, made by `qemu-img create -b` and written with qemu-io) hash as
// `qemu-img convert` flattens them; a missing parent or extent, an unsupported format and a read
// failure are checked for their exit codes and messages.
#include <catch2/catch.hpp>
#include <sstream>

#include "base/json.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::quote_path;
using test::run_safehold;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

// A raw disk with an ext4 filesystem holding a few files, a folder and a JPEG.
fsys::path make_raw(const test::TempDir& dir) {
  const std::string d = quote_path(dir.path());
  must_run("cd " + d + " && mkdir -p src/DCIM/Camera src/notes" +
           " && head -c 70000 /dev/urandom > src/notes/blob.bin && printf 'hello\\n' > src/a.txt" +
           " && (convert -size 160x120 plasma:fractal src/DCIM/Camera/IMG_0001.jpg 2>/dev/null" +
           " || cp src/notes/blob.bin src/DCIM/Camera/IMG_0001.jpg)" +
           " && mkfs.ext4 -q -F -b 1024 -d src disk.raw 8M 2>/dev/null");
  return dir / "disk.raw";
}

std::string sha256_of_json(const std::string& out) {
  auto j = nlohmann::json::parse(out);
  return j["sha256"].is_string() ? j["sha256"].get<std::string>() : "";
}

}  // namespace

TEST_CASE("issue 18: QCOW2, VHDX, VHD and VMDK read as the media they hold", "[fs][containers]") {
  test::TempDir dir("safehold-containers");
  const fsys::path raw = make_raw(dir);
  const std::string want_sha = test::sha256_file(raw);
  auto raw_ls = run_safehold("ls " + quote_path(raw));
  REQUIRE(raw_ls.exit_code == 0);
  REQUIRE(raw_ls.out.find("IMG_0001.jpg") != std::string::npos);
  auto raw_carve = run_safehold("carve --json --no-unallocated " + quote_path(raw) + " -o " +
                                quote_path(dir / "raw-out"));
  REQUIRE(raw_carve.exit_code == 0);
  const auto raw_artefacts = nlohmann::json::parse(raw_carve.out)["artefacts"];

  struct Case {
    const char* name;
    const char* qemu;  // qemu-img -O and -o
    const char* format;
  };
  const Case cases[] = {
      {"disk.qcow2", "qcow2", "qcow"},
      {"disk.qcow2c", "qcow2 -c", "qcow"},
      {"disk.qcow", "qcow", "qcow"},
      {"disk.vhdx", "vhdx", "vhdx"},
      {"disk.vhd", "vpc -o force_size=on", "vhd"},
      {"fixed.vhd", "vpc -o subformat=fixed,force_size=on", "vhd"},
      {"disk.vmdk", "vmdk", "vmdk"},
      {"split.vmdk", "vmdk -o subformat=twoGbMaxExtentSparse", "vmdk"},
      {"flat.vmdk", "vmdk -o subformat=monolithicFlat", "vmdk"},
      {"stream.vmdk", "vmdk -o subformat=streamOptimized", "vmdk"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const fsys::path img = dir / c.name;
      must_run("qemu-img convert -q -f raw -O " + std::string(c.qemu) + " " + quote_path(raw) +
               " " + quote_path(img));
      auto h = run_safehold("hash --json " + quote_path(img));
      INFO(h.err);
      REQUIRE(h.exit_code == 0);
      CHECK(sha256_of_json(h.out) == want_sha);
      CHECK(sha256_of_json(h.out) != test::sha256_file(img));
      auto i = run_safehold("info " + quote_path(img));
      REQUIRE(i.exit_code == 0);
      CHECK(i.out.find("Format:       " + std::string(c.format) + "\n") != std::string::npos);
      CHECK(i.out.find(" ext4 ") != std::string::npos);
      auto l = run_safehold("ls " + quote_path(img));
      REQUIRE(l.exit_code == 0);
      CHECK(l.out == raw_ls.out);
      auto k = run_safehold("carve --json --no-unallocated " + quote_path(img) + " -o " +
                            quote_path(dir / "out" / c.name));
      INFO(k.err);
      REQUIRE(k.exit_code == 0);
      CHECK(nlohmann::json::parse(k.out)["artefacts"] == raw_artefacts);
    }
  }
}

TEST_CASE("issue 18: differencing disks read with their parents, a missing parent is named",
          "[fs][containers][differencing]") {
  test::TempDir dir("safehold-diff");
  const fsys::path raw = make_raw(dir);
  const std::string d = quote_path(dir.path());
  for (const char* f : {"qcow2", "vmdk"}) {
    DYNAMIC_SECTION(f) {
      const std::string fmt = f;
      const std::string base = "base." + fmt, child = "child." + fmt;
      must_run("cd " + d + " && qemu-img convert -q -f raw -O " + fmt + " disk.raw " + base +
               " && qemu-img create -q -f " + fmt + " -b " + base + " -F " + fmt + " " + child +
               " && qemu-io -f " + fmt + " -c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 5M 4k' " +
               child + " >/dev/null && qemu-img convert -q -O raw " + child + " flat.raw");
      const std::string want = test::sha256_file(dir / "flat.raw");
      REQUIRE(want != test::sha256_file(raw));
      auto h = run_safehold("hash --json " + quote_path(dir / child));
      INFO(h.err);
      REQUIRE(h.exit_code == 0);
      CHECK(sha256_of_json(h.out) == want);
      auto i = run_safehold("info " + quote_path(dir / child));
      CHECK(i.out.find(base) != std::string::npos);  // listed with the files read

      // The parent moved away: every command names it.
      fsys::create_directories(dir / "elsewhere");
      fsys::rename(dir / base, dir / "elsewhere" / base);
      const std::string what = fmt == "qcow2" ? "a QCOW image" : "a VMDK child disk";
      const std::string msg = "safehold: " + (dir / child).string() + ": is " + what +
                              " whose parent " + base + " is missing (looked for " +
                              (dir / base).string() + "; give it with --parent)\n";
      for (const char* cmd : {"info", "ls", "hash"}) {
        auto r = run_safehold(std::string(cmd) + " " + quote_path(dir / child));
        INFO(cmd);
        CHECK(r.exit_code == 1);
        CHECK(r.err == msg);
      }
      auto c = run_safehold("carve " + quote_path(dir / child) + " -o " + quote_path(dir / "out"));
      CHECK(c.exit_code == 1);
      CHECK(c.err == msg);
      // Given with --parent, it is read from there.
      auto g = run_safehold("hash --json --parent " + quote_path(dir / "elsewhere" / base) + " " +
                            quote_path(dir / child));
      INFO(g.err);
      CHECK(g.exit_code == 0);
      CHECK(sha256_of_json(g.out) == want);
      // --parent takes one value: the image after it is the image, for carve too.
      auto cp = run_safehold("carve --parent " + quote_path(dir / "elsewhere" / base) + " " +
                             quote_path(dir / child) + " -o " + quote_path(dir / ("out-" + child)) +
                             " --types jpeg --no-unallocated");
      INFO(cp.err);
      CHECK(cp.exit_code == 0);
    }
  }
}

TEST_CASE("issue 18: a missing VMDK extent is named, unsupported formats are refused by name",
          "[fs][containers]") {
  test::TempDir dir("safehold-refused");
  const fsys::path raw = make_raw(dir);
  const std::string d = quote_path(dir.path());
  SECTION("VMDK extent missing") {
    must_run("cd " + d + " && qemu-img convert -q -f raw -O vmdk -o subformat=monolithicFlat " +
             "disk.raw flat.vmdk && rm flat-flat.vmdk");
    auto r = run_safehold("hash " + quote_path(dir / "flat.vmdk"));
    CHECK(r.exit_code == 1);
    CHECK(r.err == "safehold: " + (dir / "flat.vmdk").string() +
                       ": its extent file flat-flat.vmdk is missing (looked for " +
                       (dir / "flat-flat.vmdk").string() + ")\n");
  }
  SECTION("DMG, gzip: one sentence naming the format; --raw reads the file as it is") {
    // A DMG's 'koly' trailer in its last 512 bytes.
    must_run("cd " + d +
             " && cp disk.raw x.dmg && printf koly | dd of=x.dmg bs=1 seek=$((8*1024*1024-512)) "
             "conv=notrunc status=none && gzip -c disk.raw > disk.raw.gz");
    auto r = run_safehold("info " + quote_path(dir / "x.dmg"));
    CHECK(r.exit_code == 1);
    CHECK(r.err == "safehold: " + (dir / "x.dmg").string() +
                       ": is an Apple disk image (DMG), which Safehold cannot read (use --raw "
                       "to read the file as raw data)\n");
    auto h = run_safehold("hash " + quote_path(dir / "disk.raw.gz"));
    CHECK(h.exit_code == 1);
    CHECK(h.err.find("is a gzip-compressed file, which Safehold cannot read") != std::string::npos);
    auto k = run_safehold("carve " + quote_path(dir / "x.dmg") + " -o " + quote_path(dir / "o"));
    CHECK(k.exit_code == 1);
    CHECK(k.err == r.err);
    auto hr = run_safehold("hash --json --raw " + quote_path(dir / "disk.raw.gz"));
    CHECK(hr.exit_code == 0);
    CHECK(sha256_of_json(hr.out) == test::sha256_file(dir / "disk.raw.gz"));
    CHECK(run_safehold("ls --raw " + quote_path(dir / "x.dmg")).exit_code ==
          0);  // the ext4 is still there
  }
}

TEST_CASE("issue 18: a container whose data cannot be read: hash, ls and carve exit 2",
          "[fs][containers][unreadable]") {
  test::TempDir dir("safehold-cut");
  const fsys::path raw = make_raw(dir);
  const std::string d = quote_path(dir.path());
  // A QCOW2 cut short: the clusters past the cut are in its tables but not in the file.
  must_run("cd " + d + " && qemu-img convert -q -f raw -O qcow2 disk.raw full.qcow2" +
           " && head -c $(( $(stat -c %s full.qcow2) * 3 / 4 )) full.qcow2 > cut.qcow2");
  // libqcow 20201213 overran a heap buffer reading such a cluster (ASan): Safehold finds the
  // clusters outside the file when it opens the image and never reads them.
  auto i = run_safehold("info " + quote_path(dir / "cut.qcow2"));
  INFO(i.out << i.err);
  CHECK(i.exit_code == 2);
  CHECK(i.out.find("Damaged: image bytes ") != std::string::npos);
  CHECK(i.out.find("cannot be read: its clusters lie beyond the end of " +
                   (dir / "cut.qcow2").string() + " (cut short?)") != std::string::npos);
  CHECK(i.err.find("Sanitizer") == std::string::npos);
  auto h = run_safehold("hash --json " + quote_path(dir / "cut.qcow2"));
  INFO(h.err);
  CHECK(h.exit_code == 2);
  CHECK(h.err.find("Sanitizer") == std::string::npos);
  auto j = nlohmann::json::parse(h.out);
  CHECK(j["sha256"].is_null());
  CHECK(j["complete"] == false);
  REQUIRE(j["errors"].size() >= 1);
  CHECK(j["bytes"].get<uint64_t>() < fsys::file_size(raw));
  auto c = run_safehold("carve --json " + quote_path(dir / "cut.qcow2") + " -o " +
                        quote_path(dir / "out"));
  INFO(c.err);
  CHECK(c.exit_code == 2);
  auto s = nlohmann::json::parse(test::read_text(dir / "out" / "summary.json"));
  CHECK(s["complete"] == false);
  CHECK((s["unreadable"].size() + s["unreadable_files"].get<uint64_t>()) >= 1);
  CHECK(c.err.find("carved with read failures") != std::string::npos);
}
