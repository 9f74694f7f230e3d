// Two libtsk 4.11 (Debian 12's libtsk19) functions replaced by Safehold's own, bound in place of
// the library's by ELF symbol interposition: fs/CMakeLists.txt exports them from every executable
// that links safehold_fs, and libtsk calls both through its PLT, so the dynamic linker binds its
// calls here. tests/fs/test_tsk_bounds.cpp checks the binding and the behaviour.
//
// tsk_fs_attr_append_run: libtsk 4.11.1 never advances `nrd.run_end` past the first run, so every
// append walks the run list from its head and mapping a file of n runs costs n²/2 steps. A 180 KB
// ext2 image whose inode claims 3.2 GB over garbage indirect blocks (3 million one-block runs) kept
// a station busy for minutes, and a real, badly fragmented file paid the same price. This keeps the
// tail exact; otherwise its semantics are the library's.
//
// Bounds on what a hostile block map can make libtsk build (docs/fs.md, "Block maps libtsk is not
// allowed to build"): when a run appended to a Unix (ext2/3, UFS) file lies beyond the filesystem's
// last block, or a file's run list grows past what the filesystem could hold (two runs per block)
// or past kMaxRuns, the next tsk_fs_attr_run_alloc on this thread fails with a TSK error naming the
// cause. libtsk's run builder (tsk_fs_unix_make_data_run) allocates each run just before appending
// it, so the failure lands in the same file's mapping: it stops, the file is marked unreadable, and
// a read of it reports the error instead of libtsk allocating a run per garbage block (a 4
// KiB-block triple indirect map names 2^30 blocks). When the offending run was a map's last, no
// allocation of that map follows: fs/evidence.cpp clears the refusal around each of its libtsk
// calls (tsk_runs_reset), so it cannot land on another file's map.
//
// Directory opens (docs/fs.md, "Directories libtsk is not allowed to read"):
// libtsk's ext2/3/4 code reads a directory's whole claimed size, one block at a time, and parses
// each block, holes included, before it decides anything: a 5 KB image whose root claims 1.8 GB
// kept a station busy for a minute. A directory that claims more bytes than its filesystem (or
// the image) holds, or an ext directory with more than 16 MiB of holes in its block map (e2fsck
// repairs any hole in a directory), is refused before libtsk reads it, and every directory that
// could not be read is remembered for the walk to report: libtsk's walk drops a subdirectory it
// cannot read (and every name of a directory with one damaged entry) without a word.
#include "fs/internal/tsk_bounds.hpp"

#include <dlfcn.h>
#include <tsk/libtsk.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

// 256 MiB: far above what libtsk needs for any structure of a real filesystem (a directory of
// three million names is about that much); an ext4 inline-data inode of that size still costs
// twice as much (libtsk zeroes a buffer of the file's size, then copies it).
constexpr size_t kMaxTskAlloc = size_t{256} << 20;

// The last refusal since tsk_runs_reset, kept because libtsk may overwrite its own error on the
// way out ("Null list pointer").
thread_local std::string t_last_refusal;

bool refuse_size(const char* who, size_t len) {
  if (len <= kMaxTskAlloc) return false;
  t_last_refusal = std::string(who) + ": " + std::to_string(len) +
                   " bytes requested, more than Safehold lets libtsk allocate (256 MiB): a size "
                   "read from damaged or crafted evidence";
  tsk_error_reset();
  tsk_error_set_errno(TSK_ERR_AUX_MALLOC);
  tsk_error_set_errstr("%s", t_last_refusal.c_str());
  return true;
}

// 4,194,304 runs: about 200 MB of TSK run records; a real file this fragmented is beyond belief.
constexpr uint64_t kMaxRuns = uint64_t{1} << 22;

// Runs appended so far per attribute, for the few attributes being built on this thread (libtsk's
// Unix builder alternates between a file's data and its indirect-block attribute).
struct Count {
  const TSK_FS_ATTR* attr = nullptr;
  uint64_t runs = 0;
};
thread_local std::array<Count, 4> t_counts;
thread_local unsigned t_next_slot = 0;
// Why the next run allocation on this thread must fail ("" when it must not).
thread_local std::string t_refuse;

uint64_t& runs_of(TSK_FS_ATTR* attr) {
  for (Count& c : t_counts)
    if (c.attr == attr) {
      if (attr->nrd.run == nullptr) c.runs = 0;  // a new list at a reused address
      return c.runs;
    }
  Count& c = t_counts[t_next_slot++ % t_counts.size()];
  c.attr = attr;
  c.runs = 0;
  for (const TSK_FS_ATTR_RUN* r = attr->nrd.run; r && c.runs <= kMaxRuns; r = r->next) ++c.runs;
  return c.runs;
}

bool is_unix(const TSK_FS_INFO* fs) {
  return fs && (TSK_FS_TYPE_ISEXT(fs->ftype) || TSK_FS_TYPE_ISFFS(fs->ftype));
}

void check(const TSK_FS_INFO* fs, const TSK_FS_ATTR* attr, const TSK_FS_ATTR_RUN* run,
           uint64_t runs) {
  if (!t_refuse.empty()) return;
  const auto inode = [&] {
    return attr->fs_file && attr->fs_file->meta ? std::to_string(attr->fs_file->meta->addr)
                                                : std::string("?");
  };
  const bool sparse = run->flags & (TSK_FS_ATTR_RUN_FLAG_SPARSE | TSK_FS_ATTR_RUN_FLAG_FILLER);
  if (is_unix(fs) && !sparse && run->len > 0 &&
      (run->addr > fs->last_block || run->len - 1 > fs->last_block - run->addr)) {
    t_refuse = "inode " + inode() + ": block " + std::to_string(run->addr) +
               " of its block map lies beyond the filesystem's last block " +
               std::to_string(fs->last_block) + " (a damaged or crafted inode)";
    t_last_refusal = t_refuse;
    return;
  }
  uint64_t limit = kMaxRuns;
  if (fs && fs->block_count < (kMaxRuns - 2) / 2) limit = 2 * fs->block_count + 2;
  if (runs > limit) {
    t_refuse = "inode " + inode() + ": its block map has more than " + std::to_string(limit) +
               " runs, more than the filesystem can hold (a damaged or crafted inode)";
    t_last_refusal = t_refuse;
  }
}

// Holes an ext directory may have before it is refused (16 MiB: well under a second of libtsk's
// parsing; a directory of a healthy ext filesystem has none).
constexpr uint64_t kMaxDirectoryHoles = uint64_t{16} << 20;

// Why the directories that could not be read on this thread since the last take were not read.
thread_local std::vector<std::string> t_directory_failures;

// The bytes a directory of `fs` can hold at most: the filesystem's size, and the image's beyond
// the filesystem's start (both are read from evidence; the smaller wins).
uint64_t directory_room(const TSK_FS_INFO* fs) {
  uint64_t room = UINT64_MAX;
  if (fs->block_size > 0 && fs->block_count > 0 && fs->block_count <= UINT64_MAX / fs->block_size)
    room = fs->block_count * fs->block_size;
  if (fs->img_info && fs->img_info->size > 0) {
    const auto img = static_cast<uint64_t>(fs->img_info->size);
    const auto start = static_cast<uint64_t>(std::max<TSK_OFF_T>(fs->offset, 0));
    room = std::min(room, img > start ? img - start : 0);
  }
  return room;
}

// Bytes of an ext directory's claimed size its block map does not back with blocks.
uint64_t directory_holes(TSK_FS_FILE* file) {
  const TSK_FS_ATTR* attr = tsk_fs_file_attr_get(file);
  tsk_error_reset();  // a directory without a data attribute is libtsk's to report
  if (attr == nullptr || !(attr->flags & TSK_FS_ATTR_NONRES)) return 0;
  const uint64_t bs = file->fs_info->block_size;
  uint64_t backed = 0;
  for (const TSK_FS_ATTR_RUN* r = attr->nrd.run; r; r = r->next)
    if (!(r->flags & (TSK_FS_ATTR_RUN_FLAG_SPARSE | TSK_FS_ATTR_RUN_FLAG_FILLER)))
      backed += std::min<uint64_t>(r->len, UINT64_MAX / bs / 2) * bs;
  const auto size = static_cast<uint64_t>(file->meta->size);
  return size > backed ? size - backed : 0;
}

// Why libtsk must not read this directory ("" when it may).
std::string directory_refusal(TSK_FS_FILE* file) {
  const TSK_FS_INFO* fs = file->fs_info;
  const uint64_t claimed = static_cast<uint64_t>(std::max<TSK_OFF_T>(file->meta->size, 0));
  const std::string who = "directory inode " + std::to_string(file->meta->addr);
  if (const uint64_t room = directory_room(fs); claimed > room)
    return who + " claims " + std::to_string(claimed) + " bytes, more than its filesystem holds (" +
           std::to_string(room) + " bytes): a damaged or crafted inode";
  if (TSK_FS_TYPE_ISEXT(fs->ftype) &&
      file->meta->content_type != TSK_FS_META_CONTENT_TYPE_EXT4_INLINE)
    if (const uint64_t holes = directory_holes(file); holes > kMaxDirectoryHoles)
      return who + " claims " + std::to_string(claimed) + " bytes of which " +
             std::to_string(holes) +
             " are holes in its block map (more than 16 MiB; an ext directory has none): a damaged "
             "or crafted inode";
  return "";
}

using DirOpen = TSK_RETVAL_ENUM (*)(TSK_FS_INFO*, TSK_FS_DIR**, TSK_INUM_T, int);

// libtsk's own function of that name (the next definition after the executable's).
DirOpen library_dir_open(const char* name) {
  return reinterpret_cast<DirOpen>(dlsym(RTLD_NEXT, name));
}

void note_directory_failure(std::string why) {
  std::replace(why.begin(), why.end(), '\n', ' ');
  while (!why.empty() && why.back() == ' ') why.pop_back();
  // libtsk opens a directory again when it looks for orphans: once is enough.
  auto& seen = t_directory_failures;
  if (seen.size() < 1000 && std::find(seen.begin(), seen.end(), why) == seen.end())
    seen.push_back(std::move(why));
}

// Safehold's side of every filesystem's directory open: refuse what must not be read, then
// libtsk's own (`lib`), and remember a failure libtsk's walk would swallow.
TSK_RETVAL_ENUM open_directory(DirOpen lib, const char* name, TSK_FS_INFO* fs, TSK_FS_DIR** dir,
                               TSK_INUM_T addr, int depth) {
  if (lib == nullptr) {
    tsk_error_reset();
    tsk_error_set_errno(TSK_ERR_FS_ARG);
    tsk_error_set_errstr("%s: libtsk's own function was not found", name);
    return TSK_ERR;
  }
  const bool real =
      fs && addr >= fs->first_inum && addr <= fs->last_inum && addr != TSK_FS_ORPHANDIR_INUM(fs);
  if (real) {
    std::string why;
    if (TSK_FS_FILE* file = tsk_fs_file_open_meta(fs, nullptr, addr)) {
      if (file->meta) why = directory_refusal(file);
      tsk_fs_file_close(file);
    }
    tsk_error_reset();  // an inode that cannot be loaded is libtsk's to report, below
    if (!why.empty()) {
      t_last_refusal = why;
      note_directory_failure(why);
      tsk_error_set_errno(TSK_ERR_FS_INODE_COR);
      tsk_error_set_errstr("%s", why.c_str());
      return TSK_ERR;
    }
  }
  const TSK_RETVAL_ENUM ret = lib(fs, dir, addr, depth);
  if (ret != TSK_OK && real) {
    const char* err = tsk_error_get_errstr();
    note_directory_failure("directory inode " + std::to_string(addr) + " could not be read" +
                           (err && *err ? std::string(": ") + err : std::string()));
  }
  return ret;
}

}  // namespace

// libtsk keeps each filesystem's directory reader as a function pointer it takes through its GOT,
// so these definitions are the ones every filesystem it opens calls.
#define SAFEHOLD_DIR_OPEN(name)                                                                    \
  extern "C" TSK_RETVAL_ENUM name(TSK_FS_INFO* fs, TSK_FS_DIR** dir, TSK_INUM_T addr, int depth) { \
    static const DirOpen lib = library_dir_open(#name);                                            \
    return open_directory(lib, #name, fs, dir, addr, depth);                                       \
  }
SAFEHOLD_DIR_OPEN(ext2fs_dir_open_meta)
SAFEHOLD_DIR_OPEN(ffs_dir_open_meta)
SAFEHOLD_DIR_OPEN(fatfs_dir_open_meta)
SAFEHOLD_DIR_OPEN(ntfs_dir_open_meta)
SAFEHOLD_DIR_OPEN(hfs_dir_open_meta)
SAFEHOLD_DIR_OPEN(iso9660_dir_open_meta)
#undef SAFEHOLD_DIR_OPEN

extern "C" void tsk_fs_attr_append_run(TSK_FS_INFO* fs, TSK_FS_ATTR* attr, TSK_FS_ATTR_RUN* run) {
  if (attr == nullptr || run == nullptr) return;
  uint64_t& runs = runs_of(attr);
  if (attr->nrd.run == nullptr) {
    attr->nrd.run = run;
    run->offset = 0;
  } else {
    if (attr->nrd.run_end == nullptr || attr->nrd.run_end->next != nullptr) {
      TSK_FS_ATTR_RUN* cur = attr->nrd.run;
      while (cur->next) cur = cur->next;
      attr->nrd.run_end = cur;
    }
    attr->nrd.run_end->next = run;
    run->offset = attr->nrd.run_end->offset + attr->nrd.run_end->len;
  }
  attr->nrd.run_end = run;
  ++runs;
  check(fs, attr, run, runs);
  for (TSK_FS_ATTR_RUN* cur = run; cur->next; cur = cur->next) {
    cur->next->offset = cur->offset + cur->len;
    attr->nrd.run_end = cur->next;
    ++runs;
    check(fs, attr, cur->next, runs);
  }
}

extern "C" TSK_FS_ATTR_RUN* tsk_fs_attr_run_alloc() {
  if (!t_refuse.empty()) {
    tsk_error_reset();
    tsk_error_set_errno(TSK_ERR_FS_INODE_COR);
    tsk_error_set_errstr("%s", t_refuse.c_str());
    t_refuse.clear();
    return nullptr;
  }
  // libtsk's own: zeroed memory from tsk_malloc, which libtsk frees with free().
  return static_cast<TSK_FS_ATTR_RUN*>(tsk_malloc(sizeof(TSK_FS_ATTR_RUN)));
}

extern "C" void* tsk_malloc(size_t len) {
  if (refuse_size("tsk_malloc", len)) return nullptr;
  void* p = std::calloc(1, len);  // libtsk's own: malloc, then memset to zero
  if (p == nullptr) {
    tsk_error_reset();
    tsk_error_set_errno(TSK_ERR_AUX_MALLOC);
    tsk_error_set_errstr("tsk_malloc: out of memory (%zu requested)", len);
  }
  return p;
}

extern "C" void* tsk_realloc(void* ptr, size_t len) {
  if (refuse_size("tsk_realloc", len)) return nullptr;  // ptr stays the caller's, as on failure
  void* p = std::realloc(ptr, len);
  if (p == nullptr) {
    tsk_error_reset();
    tsk_error_set_errno(TSK_ERR_AUX_MALLOC);
    tsk_error_set_errstr("tsk_realloc: out of memory (%zu requested)", len);
  }
  return p;
}

namespace safehold::fs::detail {

void tsk_runs_reset() {
  t_refuse.clear();
  t_last_refusal.clear();
}

std::vector<std::string> take_directory_failures() {
  std::vector<std::string> out;
  out.swap(t_directory_failures);
  return out;
}

std::optional<std::string> tsk_refusal() {
  if (t_last_refusal.empty()) return std::nullopt;
  return t_last_refusal;
}

}  // namespace safehold::fs::detail
