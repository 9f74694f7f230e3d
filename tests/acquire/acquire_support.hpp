// Helpers shared by the acquire tests: running the binary, generated sources, the pread shim
// (badread_shim.c, compiled once per run), loop devices and a generated two-partition disk.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/common/support.hpp"

namespace safehold::test::acq {

namespace fsys = std::filesystem;
using nlohmann::json;

inline std::string q(const fsys::path& p) {
  return shell_quote(p.string());
}

inline std::string safehold_cmd() {
  // ASan must not insist on being first in the library list when the shim is preloaded.
  // libewf's own leaks on failure paths are suppressed (see lsan.supp).
  return "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "
         "LSAN_OPTIONS=suppressions=" +
         shell_quote(source_dir() + "/tests/acquire/lsan.supp") + " " +
         shell_quote(safehold_binary());
}

inline const char* kMeta =
    " --case 'CASE-2026/17' --evidence 'EV 3' --examiner 'D. Examiner' --description 'Seized "
    "laptop disk'"
    " --notes 'bag 44, sealed'";

inline std::string first_word(const std::string& s) {
  return s.substr(0, s.find_first_of(" \t\n"));
}
inline std::string md5sum(const fsys::path& p) {
  return first_word(must_run("md5sum " + q(p)));
}
inline std::string sha1sum(const fsys::path& p) {
  return first_word(must_run("sha1sum " + q(p)));
}
inline std::string sha256sum(const fsys::path& p) {
  return first_word(must_run("sha256sum " + q(p)));
}

inline json read_json(const fsys::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

inline bool skip_unless_root() {
  if (geteuid() == 0) return false;
  WARN("skipped: needs root (losetup, mount, BLKROSET)");
  return true;
}

// Half zeros, a quarter random, a quarter text (the benchmark's mix), `mib` MiB in all.
inline void make_source(const fsys::path& p, int mib) {
  int quarter = mib / 4;
  must_run("set -e; f=" + q(p) + "; : > $f; head -c " + std::to_string(quarter << 20) +
           " /dev/urandom >> $f; head -c " + std::to_string(2 * quarter << 20) +
           " /dev/zero >> $f; " + "seq 1 100000000 | head -c " +
           std::to_string((mib - 3 * quarter) << 20) + " >> $f");
}

// The LD_PRELOAD shim, compiled once per test run.
inline std::string shim() {
  static TempDir dir("safehold-shim");
  static std::string so;
  if (so.empty()) {
    so = (dir / "badread.so").string();
    must_run("cc -shared -fPIC -O2 -o " + q(so) + " " +
             q(fsys::path(source_dir()) / "tests/acquire/badread_shim.c") + " -ldl");
  }
  return so;
}

inline std::string with_shim(const fsys::path& target, const std::string& bad, int delay_us = 0) {
  return "SAFEHOLD_SHIM_PATH=" + q(target) + " SAFEHOLD_SHIM_BAD=" + shell_quote(bad) +
         " SAFEHOLD_SHIM_DELAY_US=" + std::to_string(delay_us) + " LD_PRELOAD=" + q(shim()) + " ";
}

// A loop device over a file, detached (with its partitions) on destruction.
class Loop {
 public:
  explicit Loop(const fsys::path& file) {
    dev_ = first_word(must_run("losetup -f --show -P " + q(file)));
    run("partx -a " + dev_ + " 2>/dev/null; udevadm settle 2>/dev/null; true");
  }
  ~Loop() {
    run("umount " + dev_ + "p1 2>/dev/null; umount " + dev_ + "p2 2>/dev/null; blockdev --setrw " +
        dev_ + " 2>/dev/null; losetup -d " + dev_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  const std::string& dev() const { return dev_; }
  // A node for partition n (devtmpfs may not have made one).
  std::string part(int n) const {
    std::string p = dev_ + "p" + std::to_string(n);
    if (!fsys::exists(p)) {
      std::string name = fsys::path(p).filename().string();
      std::string mm = read_text("/sys/class/block/" + name + "/dev");
      mm = mm.substr(0, mm.find('\n'));
      must_run("mknod " + p + " b " + mm.substr(0, mm.find(':')) + " " +
               mm.substr(mm.find(':') + 1));
    }
    return p;
  }

 private:
  std::string dev_;
};

// A generated disk: DOS table, FAT32 partition with files, ext4 partition with files.
inline void make_disk(const TempDir& t, const fsys::path& img, Loop*& loop_out,
                      std::unique_ptr<Loop>& holder) {
  must_run("truncate -s 64M " + q(img) +
           " && printf 'label: dos\\nstart=2048, size=40960, type=c\\n"
           "start=43008, type=83\\n' | sfdisk -q " +
           q(img));
  holder = std::make_unique<Loop>(img);
  loop_out = holder.get();
  fsys::create_directories(t / "content");
  must_run("head -c 3000000 /dev/urandom > " + q(t / "content/photo.bin") + " && seq 1 300000 > " +
           q(t / "content/numbers.txt"));
  must_run("mkfs.vfat " + holder->part(1) + " >/dev/null && mcopy -i " + holder->part(1) + " " +
           q(t / "content/numbers.txt") + " ::/NUMBERS.TXT");
  must_run("mke2fs -q -t ext4 -d " + q(t / "content") + " " + holder->part(2));
}

}  // namespace safehold::test::acq
