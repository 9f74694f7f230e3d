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
#include "fs/internal/tsk_bounds.hpp"

#include <tsk/libtsk.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

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

}  // namespace

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

std::optional<std::string> tsk_refusal() {
  if (t_last_refusal.empty()) return std::nullopt;
  return t_last_refusal;
}

}  // namespace safehold::fs::detail
