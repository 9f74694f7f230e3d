// fs/internal/tsk_bounds.cpp: Safehold's tsk_fs_attr_append_run and tsk_fs_attr_run_alloc are the
// ones libtsk's own calls reach; a fragmented ext2 file made by debugfs maps and reads exactly as
// TSK's icat gives it; the fuzzing finding with a 3.2 GB garbage block map is refused, named, not
// mapped.
#include <dlfcn.h>
#include <tsk/libtsk.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "base/hash.hpp"
#include "fs/evidence.hpp"
#include "fs/internal/tsk_bounds.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

// Walks filesystem 0 for `name`; returns its entry.
fs::FileEntry find(fs::Evidence& ev, const std::string& path) {
  std::optional<fs::FileEntry> found;
  ev.walk(0, [&](const fs::FileEntry& e) {
    if (e.path == path) found = e;
    return !found;
  });
  REQUIRE(found);
  return *found;
}

}  // namespace

TEST_CASE("libtsk's calls bind to Safehold's run list functions", "[fs]") {
  void* lib = dlopen("libtsk.so.19", RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(lib != nullptr);
  for (const char* name :
       {"tsk_fs_attr_append_run", "tsk_fs_attr_run_alloc", "tsk_malloc", "tsk_realloc",
        "ext2fs_dir_open_meta", "ffs_dir_open_meta", "fatfs_dir_open_meta", "ntfs_dir_open_meta",
        "hfs_dir_open_meta", "iso9660_dir_open_meta"}) {
    INFO(name);
    void* bound = dlsym(RTLD_DEFAULT, name);  // what libtsk's PLT resolves to
    void* library_own = dlsym(lib, name);
    REQUIRE(bound != nullptr);
    REQUIRE(library_own != nullptr);
    CHECK(bound != library_own);
  }
  CHECK(dlsym(RTLD_DEFAULT, "tsk_fs_attr_append_run") ==
        reinterpret_cast<void*>(&tsk_fs_attr_append_run));
  dlclose(lib);
}

TEST_CASE("libtsk's allocations are zeroed and bounded at 256 MiB", "[fs]") {
  auto* p = static_cast<unsigned char*>(tsk_malloc(4096));
  REQUIRE(p != nullptr);
  CHECK(std::all_of(p, p + 4096, [](unsigned char c) { return c == 0; }));
  p = static_cast<unsigned char*>(tsk_realloc(p, 8192));
  REQUIRE(p != nullptr);
  CHECK(tsk_realloc(p, (size_t{256} << 20) + 1) == nullptr);  // p is still the caller's
  CHECK(
      std::string(tsk_error_get_errstr()) ==
      "tsk_realloc: 268435457 bytes requested, more than Safehold lets libtsk allocate (256 MiB): "
      "a size read from damaged or crafted evidence");
  free(p);
  CHECK(tsk_malloc(size_t{1} << 57) == nullptr);
  CHECK(std::string(tsk_error_get_errstr()) ==
        "tsk_malloc: 144115188075855872 bytes requested, more than Safehold lets libtsk allocate "
        "(256 MiB): a size read from damaged or crafted evidence");
  tsk_error_reset();
}

TEST_CASE("the run list keeps its tail and offsets", "[fs]") {
  TSK_FS_ATTR* attr = tsk_fs_attr_alloc(TSK_FS_ATTR_NONRES);
  REQUIRE(attr != nullptr);
  std::vector<TSK_FS_ATTR_RUN*> runs;
  for (int i = 0; i < 5; ++i) {
    TSK_FS_ATTR_RUN* r = tsk_fs_attr_run_alloc();
    REQUIRE(r != nullptr);
    r->addr = static_cast<TSK_DADDR_T>(100 + 10 * i);
    r->len = static_cast<TSK_DADDR_T>(i + 1);
    tsk_fs_attr_append_run(nullptr, attr, r);
    runs.push_back(r);
    CHECK(attr->nrd.run_end == r);  // libtsk 4.11.1 left it at the first run
  }
  // A chain of two appended at once.
  TSK_FS_ATTR_RUN* a = tsk_fs_attr_run_alloc();
  TSK_FS_ATTR_RUN* b = tsk_fs_attr_run_alloc();
  a->len = 4;
  b->len = 2;
  a->next = b;
  tsk_fs_attr_append_run(nullptr, attr, a);
  CHECK(attr->nrd.run_end == b);
  std::vector<TSK_OFF_T> offsets;
  for (TSK_FS_ATTR_RUN* r = attr->nrd.run; r; r = r->next) offsets.push_back(r->offset);
  CHECK(offsets == std::vector<TSK_OFF_T>{0, 1, 3, 6, 10, 15, 19});
  tsk_fs_attr_free(attr);
}

TEST_CASE("a fragmented ext2 file maps and reads as icat gives it", "[fs]") {
  test::TempDir t;
  const fsys::path img = t / "frag.img", small = t / "small", big = t / "big", cmds = t / "cmds";
  must_run("head -c 1024 /dev/urandom >" + shell_quote(small.string()) +
           " && head -c 700000 /dev/urandom >" + shell_quote(big.string()) + " && truncate -s 4M " +
           shell_quote(img.string()) + " && mke2fs -q -t ext2 -b 1024 -N 2048 " +
           shell_quote(img.string()));
  // 1,400 one-block files, every other one removed, then the big file written into the holes.
  std::string script;
  for (int i = 0; i < 1400; ++i)
    script += "write " + small.string() + " s" + std::to_string(i) + "\n";
  for (int i = 1; i < 1400; i += 2) script += "rm s" + std::to_string(i) + "\n";
  script += "write " + big.string() + " big\n";
  test::write_text(cmds, script);
  must_run("debugfs -w -f " + shell_quote(cmds.string()) + " " + shell_quote(img.string()) +
           " >/dev/null 2>&1");
  const std::string icat_sha = must_run(
      "icat " + shell_quote(img.string()) + " " + "$(fls " + shell_quote(img.string()) +
      " | awk '$NF==\"big\"{sub(\":\",\"\",$2); print $2}')" + " | sha256sum | cut -d' ' -f1");
  REQUIRE(icat_sha == test::sha256_file(big) + "\n");

  auto ev = fs::Evidence::open(img);
  fs::FileEntry e = find(*ev, "/big");
  CHECK(e.size == 700000);
  CHECK(e.byte_runs.size() > 600);  // debugfs fills the 700 one-block holes first
  uint64_t covered = 0;
  for (const auto& r : e.byte_runs) {
    CHECK(r.file_offset == covered);
    covered += r.len;
  }
  CHECK(covered == 700000);
  base::MultiHasher h(4);
  REQUIRE_FALSE(ev->read_file(0, e.inode, [&](std::span<const std::byte> b) {
    h.update(b);
    return true;
  }));
  CHECK(h.finish().sha256 + "\n" == icat_sha);
}

TEST_CASE("a block map beyond the filesystem is refused and named, not built", "[fs]") {
  // fs/fuzz/findings/ext2-indirect-quadratic.img (a libFuzzer finding): inode 19 claims
  // 3,238,002,688 bytes on a 256-block filesystem, its indirect blocks full of garbage.
  const fsys::path img =
      fsys::path(test::source_dir()) / "fs/fuzz/findings/ext2-indirect-quadratic.img";
  auto ev = fs::Evidence::open(img);
  REQUIRE(ev->filesystems().size() == 1);
  std::map<uint64_t, fs::FileEntry> found;
  ev->walk(0, [&](const fs::FileEntry& e) {
    found[e.inode] = e;
    return true;
  });
  REQUIRE(found.count(18));
  REQUIRE(found.count(19));
  CHECK(found[18].size == 2164260864u);
  CHECK(found[19].size == 3238002688u);
  // Inode 18's map holds a sign-extended garbage block; inode 19's stays inside the filesystem but
  // alternates. Safehold's sentence, not libtsk's wrapper ("Error recovering deleted file").
  const std::map<uint64_t, std::string> why = {
      {18,
       "block 18446744071729840128 of its block map lies beyond the filesystem's last block 255"},
      {19, "its block map has more than 514 runs, more than the filesystem can hold"}};
  for (const auto& [inode, cause] : why) {
    INFO("inode " << inode);
    CHECK(found[inode].byte_runs.empty());  // not mapped
    uint64_t delivered = 0;
    auto problem = ev->read_file(
        0, inode, [](std::span<const std::byte>) { return true; }, &delivered);
    REQUIRE(problem);
    CHECK(problem->where == "fs 0 inode " + std::to_string(inode));
    CHECK(problem->message == "content unreadable at file offset 0: inode " +
                                  std::to_string(inode) + ": " + cause +
                                  " (a damaged or crafted inode)");
    CHECK(delivered == 0);
  }
}

TEST_CASE("an inode whose size libtsk would allocate is refused and named", "[fs]") {
  // fs/fuzz/findings/ext2-inode-size-2e57.img (a libFuzzer finding): inode 32 claims
  // 144,115,188,162,330,624 bytes, which libtsk 4.11 tries to allocate and zero on a read.
  const fsys::path img =
      fsys::path(test::source_dir()) / "fs/fuzz/findings/ext2-inode-size-2e57.img";
  auto ev = fs::Evidence::open(img);
  std::map<uint64_t, fs::FileEntry> found;
  ev->walk(0, [&](const fs::FileEntry& e) {
    found[e.inode] = e;
    return true;
  });
  REQUIRE(found.count(32));
  CHECK(found[32].size == 144115188162330624u);
  auto problem = ev->read_file(0, 32, [](std::span<const std::byte>) { return true; });
  REQUIRE(problem);
  CHECK(problem->where == "fs 0 inode 32");
  CHECK(problem->message ==
        "content unreadable at file offset 0: tsk_malloc: 144115188162330624 bytes requested, more "
        "than Safehold lets libtsk allocate (256 MiB): a size read from damaged or crafted "
        "evidence");
}

namespace {

// Every path of filesystem 0, and the problems its walk met.
std::pair<std::vector<std::string>, std::vector<fs::Problem>> walk_all(const fsys::path& img) {
  auto ev = fs::Evidence::open(img);
  std::vector<std::string> paths;
  ev->walk(0, [&](const fs::FileEntry& e) {
    paths.push_back(e.path);
    return true;
  });
  std::sort(paths.begin(), paths.end());
  return {paths, ev->problems()};
}

// An ext2 of `mib` MiB (1 KiB blocks) with /d/a, /d/b and /top; `sif` commands for debugfs after.
fsys::path ext2_with_dir(const test::TempDir& t, const std::string& sif, int mib = 4) {
  const fsys::path img = t / "dir.img", f = t / "f", cmds = t / "cmds";
  must_run("printf x >" + shell_quote(f.string()) + " && truncate -s " + std::to_string(mib) +
           "M " + shell_quote(img.string()) + " && mke2fs -q -t ext2 -b 1024 " +
           shell_quote(img.string()));
  test::write_text(cmds, "mkdir d\nwrite " + f.string() + " d/a\nwrite " + f.string() +
                             " d/b\nwrite " + f.string() + " top\n" + sif);
  must_run("debugfs -w -f " + shell_quote(cmds.string()) + " " + shell_quote(img.string()) +
           " >/dev/null 2>&1");
  return img;
}

}  // namespace

TEST_CASE("a directory that claims more than its filesystem holds is refused, not read", "[fs]") {
  // fs/fuzz/findings/ext2-dir-slow-read.img (a libFuzzer finding): the root directory of a
  // 5,436-byte image claims 1,801,678,700 bytes; libtsk read all of it (a minute) before failing.
  const fsys::path img = fsys::path(test::source_dir()) / "fs/fuzz/findings/ext2-dir-slow-read.img";
  auto [paths, problems] = walk_all(img);
  CHECK(paths.empty());
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].where == "fs 0 (ext2)");
  CHECK(problems[0].message ==
        "directory walk incomplete: directory inode 2 claims 1801678700 bytes, more than its "
        "filesystem holds (5436 bytes): a damaged or crafted inode");
}

TEST_CASE("a subdirectory libtsk cannot read is reported, not silently dropped", "[fs]") {
  test::TempDir t;
  SECTION("healthy: every name, no problem") {
    auto [paths, problems] = walk_all(ext2_with_dir(t, ""));
    CHECK(paths ==
          std::vector<std::string>{"/$OrphanFiles", "/d", "/d/a", "/d/b", "/lost+found", "/top"});
    CHECK(problems.empty());
  }
  SECTION("a size beyond the filesystem") {
    auto [paths, problems] = walk_all(ext2_with_dir(t, "sif d size 0x40000000\n"));
    CHECK(paths == std::vector<std::string>{"/$OrphanFiles", "/d", "/lost+found", "/top"});
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].message ==
          "directory not read: directory inode 12 claims 1073741824 bytes, more than its "
          "filesystem holds (4194304 bytes): a damaged or crafted inode");
  }
  SECTION("3 MiB of holes: read through, every name") {
    auto [paths, problems] = walk_all(ext2_with_dir(t, "sif d size 0x300000\n"));
    CHECK(paths ==
          std::vector<std::string>{"/$OrphanFiles", "/d", "/d/a", "/d/b", "/lost+found", "/top"});
    CHECK(problems.empty());
  }
  SECTION("20 MiB of holes: refused") {
    auto [paths, problems] = walk_all(ext2_with_dir(t, "sif d size 0x1400000\n", 32));
    CHECK(paths == std::vector<std::string>{"/$OrphanFiles", "/d", "/lost+found", "/top"});
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].message ==
          "directory not read: directory inode 12 claims 20971520 bytes of which 20970496 are "
          "holes in its block map (more than 16 MiB; an ext directory has none): a damaged or "
          "crafted inode");
  }
}
