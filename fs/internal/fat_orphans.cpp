#include "fs/internal/fat_orphans.hpp"

#include <tsk/libtsk.h>
// clang-format off
#include "tsk_fs_i.h"  // fs/internal/tsk_private: see there
#include <tsk/fs/tsk_fatfs.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>
#include <vector>

namespace safehold::fs::detail {

namespace {

std::atomic<bool> g_enabled{true};
std::atomic<uint64_t> g_skipped{0};
thread_local TSK_FS_INFO* t_filtered = nullptr;  // the filesystem whose walk this thread filters

TSK_WALK_RET_ENUM mark_sector(TSK_FS_FILE*, TSK_OFF_T, TSK_DADDR_T addr, char*, size_t,
                              TSK_FS_BLOCK_FLAG_ENUM, void* ptr) {
  auto* bits = static_cast<std::vector<bool>*>(ptr);
  if (addr < bits->size()) (*bits)[addr] = true;
  return TSK_WALK_CONT;
}

constexpr auto kDirWalkFlags = static_cast<TSK_FS_FILE_WALK_FLAG_ENUM>(TSK_FS_FILE_WALK_FLAG_SLACK |
                                                                       TSK_FS_FILE_WALK_FLAG_AONLY);

TSK_WALK_RET_ENUM mark_dir(TSK_FS_FILE* file, const char*, void* ptr) {
  if (!file->meta || file->meta->type != TSK_FS_META_TYPE_DIR) return TSK_WALK_CONT;
  if (tsk_fs_file_walk(file, kDirWalkFlags, mark_sector, ptr))
    tsk_error_reset();  // as TSK: ignored
  return TSK_WALK_CONT;
}

// The sectors fatfs_inode_walk treats as directory sectors, found the way it finds them (the
// root directory's file walk, then every allocated directory's).
bool dir_sectors(TSK_FS_INFO* fs, std::vector<bool>& bits) {
  bits.assign(static_cast<size_t>(fs->block_count), false);
  TSK_FS_FILE* root = tsk_fs_file_open_meta(fs, nullptr, fs->root_inum);
  if (!root) return false;
  uint8_t bad = tsk_fs_file_walk(root, kDirWalkFlags, mark_sector, &bits);
  tsk_fs_file_close(root);
  if (bad) return false;
  auto flags = static_cast<TSK_FS_DIR_WALK_FLAG_ENUM>(
      TSK_FS_DIR_WALK_FLAG_ALLOC | TSK_FS_DIR_WALK_FLAG_RECURSE | TSK_FS_DIR_WALK_FLAG_NOORPHAN);
  return tsk_fs_dir_walk(fs, fs->root_inum, flags, mark_dir, &bits) == 0;
}

using SectorRun = std::pair<TSK_DADDR_T, TSK_DADDR_T>;  // first and last sector
thread_local const ZeroOracle* t_zero = nullptr;

// Runs of whole clusters for which fatfs_inode_walk makes no callback, whatever its flags (short
// of ORPHAN): no sector of a directory, and either allocated (skipped unless a directory's) or
// unallocated with every sector's first slot failing is_dentry (the walk then skips the sector).
// Unreadable clusters are kept (the walk reports the error where it meets it). The first and last
// clusters are always kept, and so are runs too short to pay for one more inode walk call.
// FAT entries read straight from the first FAT, as a hint of which clusters are free (entry 0):
// only to choose what to read in bulk, never to decide a skip on its own. Empty when unreadable.
std::vector<uint8_t> free_hint(FATFS_INFO* fat) {
  TSK_FS_INFO* fs = &fat->fs_info;
  std::vector<uint8_t> out;
  const uint64_t ss = fat->ssize, nclust = fat->lastclust + 1;
  const uint64_t bytes = static_cast<uint64_t>(fat->sectperfat) * ss;
  const uint64_t need = fs->ftype == TSK_FS_TYPE_FAT32   ? nclust * 4
                        : fs->ftype == TSK_FS_TYPE_FAT16 ? nclust * 2
                                                         : nclust * 3 / 2 + 2;
  if (need > bytes || need > (uint64_t{1} << 30)) return out;
  std::vector<unsigned char> tab(static_cast<size_t>(need));
  const TSK_OFF_T off = fs->offset + static_cast<TSK_OFF_T>(fat->firstfatsect * ss);
  if (tsk_img_read(fs->img_info, off, reinterpret_cast<char*>(tab.data()), tab.size()) !=
      static_cast<ssize_t>(tab.size())) {
    tsk_error_reset();
    return out;
  }
  out.resize(static_cast<size_t>(nclust));
  for (uint64_t c = 2; c < nclust; ++c) {
    uint32_t v;
    if (fs->ftype == TSK_FS_TYPE_FAT32) {
      const unsigned char* p = &tab[c * 4];
      v = (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24) &
          FATFS_32_MASK;
    } else if (fs->ftype == TSK_FS_TYPE_FAT16) {
      v = uint32_t(tab[c * 2]) | uint32_t(tab[c * 2 + 1]) << 8;
    } else {
      const size_t b = static_cast<size_t>(c + c / 2);
      const uint32_t w = uint32_t(tab[b]) | uint32_t(tab[b + 1]) << 8;
      v = (c & 1) ? w >> 4 : w & FATFS_12_MASK;
    }
    out[static_cast<size_t>(c)] = v == 0;
  }
  return out;
}

// Runs of whole clusters for which fatfs_inode_walk makes no callback, whatever its flags (short
// of ORPHAN): no sector of a directory, and every sector's first slot failing is_dentry as the
// walk tests it in unallocated clusters (it skips such a sector there; an allocated cluster that
// holds no directory sector it skips whole). Allocated clusters (by TSK's fatfs_is_sectalloc)
// are not read; free ones are read in bulk, or known to be zeros (`zero`). Unreadable clusters
// are kept (the walk then reports the error where it meets it). The first and last clusters are
// always kept, and so are runs too short to pay for one more inode walk call.
std::vector<SectorRun> skip_runs(FATFS_INFO* fat, const ZeroOracle& zero_range) {
  TSK_FS_INFO* fs = &fat->fs_info;
  const TSK_DADDR_T first = fat->firstclustsect, last = fs->last_block;
  const uint64_t cs = fat->csize, ss = fat->ssize;
  std::vector<SectorRun> out;
  if (cs == 0 || ss < sizeof(FATFS_DENTRY) || first > last || fat->is_dentry == nullptr) return out;
  const uint64_t nclust = (last - first + 1) / cs;
  if (nclust < 3) return out;
  std::vector<bool> dir;
  if (!dir_sectors(fs, dir)) {
    tsk_error_reset();
    return out;
  }
  // Each inode walk call walks the directory tree again: skip only runs worth that.
  const uint64_t min_sectors =
      2048 + 16 * static_cast<uint64_t>(std::count(dir.begin(), dir.end(), true));
  const std::vector<uint8_t> hint = free_hint(fat);
  FATFS_DENTRY zero;
  std::memset(&zero, 0, sizeof zero);
  const bool zero_is_dentry =
      fat->is_dentry(fat, &zero, FATFS_DATA_UNIT_ALLOC_STATUS_UNALLOC, 0) != 0;

  const uint64_t batch =
      std::max<uint64_t>(1, (uint64_t{256} << 10) / (cs * ss));  // clusters per read
  std::vector<char> buf(static_cast<size_t>(batch * cs * ss));
  std::vector<uint8_t> state(static_cast<size_t>(batch));  // kKeep, kSkip, kRead
  constexpr uint8_t kKeep = 0, kSkip = 1, kRead = 2;
  uint64_t run_start = 0, run_len = 0;
  auto close_run = [&] {
    if (run_len * cs >= min_sectors)
      out.push_back({first + run_start * cs, first + (run_start + run_len) * cs - 1});
    run_len = 0;
  };
  auto has_dir_sector = [&](TSK_DADDR_T s) {
    for (uint64_t k = 0; k < cs; ++k)
      if (s + k < dir.size() && dir[static_cast<size_t>(s + k)]) return true;
    return false;
  };
  const uint64_t end_c = nclust - 1;  // the last cluster is kept
  for (uint64_t c = 1; c < end_c;) {
    const uint64_t n = std::min(batch, end_c - c);
    for (uint64_t i = 0; i < n; ++i) {
      const TSK_DADDR_T s = first + (c + i) * cs;
      const uint64_t clust = FATFS_SECT_2_CLUST(fat, s);
      if (has_dir_sector(s)) {
        state[i] = kKeep;
      } else if (clust < hint.size() && hint[static_cast<size_t>(clust)]) {
        state[i] = kRead;  // free by the hint: the content decides, whatever TSK thinks of it
      } else {
        const int8_t a = fatfs_is_sectalloc(fat, s);
        state[i] = a < 0 ? kKeep : a == 1 ? kSkip : kRead;
      }
    }
    // Test each span of clusters to read as one piece.
    for (uint64_t i = 0; i < n;) {
      if (state[i] != kRead) {
        ++i;
        continue;
      }
      uint64_t j = i;
      while (j < n && state[j] == kRead) ++j;
      const size_t len = static_cast<size_t>((j - i) * cs * ss);
      const uint64_t off = static_cast<uint64_t>(fs->offset) + (first + (c + i) * cs) * ss;
      if (zero_range && zero_range(off, len)) {
        for (uint64_t k = i; k < j; ++k) state[k] = zero_is_dentry ? kKeep : kSkip;
      } else if (tsk_img_read(fs->img_info, static_cast<TSK_OFF_T>(off), buf.data(), len) !=
                 static_cast<ssize_t>(len)) {
        tsk_error_reset();
        for (uint64_t k = i; k < j; ++k) state[k] = kKeep;
      } else {
        for (uint64_t k = i; k < j; ++k) {
          const char* cl = buf.data() + (k - i) * cs * ss;
          state[k] = kSkip;
          for (uint64_t sct = 0; sct < cs; ++sct) {
            auto* de = reinterpret_cast<FATFS_DENTRY*>(const_cast<char*>(cl + sct * ss));
            const bool blank = std::memcmp(de, &zero, sizeof zero) == 0;
            if (blank ? zero_is_dentry
                      : fat->is_dentry(fat, de, FATFS_DATA_UNIT_ALLOC_STATUS_UNALLOC, 0) != 0) {
              state[k] = kKeep;
              break;
            }
          }
        }
      }
      i = j;
    }
    for (uint64_t i = 0; i < n; ++i) {
      if (state[i] == kSkip) {
        if (run_len == 0) run_start = c + i;
        ++run_len;
      } else {
        close_run();
      }
    }
    c += n;
  }
  close_run();
  tsk_error_reset();
  return out;
}

struct StopWatch {
  TSK_FS_META_WALK_CB cb;
  void* ptr;
  bool stopped = false;
};

TSK_WALK_RET_ENUM forward(TSK_FS_FILE* file, void* ptr) {
  auto* w = static_cast<StopWatch*>(ptr);
  TSK_WALK_RET_ENUM r = w->cb(file, w->ptr);
  if (r == TSK_WALK_STOP) w->stopped = true;
  return r;
}

// Installed as TSK_FS_INFO::inode_walk: whole-range walks (the orphan search's) go through
// fatfs_inode_walk in pieces between the skip runs, in order; anything else goes straight to it.
uint8_t filtered_walk(TSK_FS_INFO* fs, TSK_INUM_T start, TSK_INUM_T end,
                      TSK_FS_META_FLAG_ENUM flags, TSK_FS_META_WALK_CB cb, void* ptr) {
  if (t_filtered != fs || start != fs->first_inum || end != fs->last_inum ||
      (flags & TSK_FS_META_FLAG_ORPHAN) || cb == nullptr)
    return fatfs_inode_walk(fs, start, end, flags, cb, ptr);
  auto* fat = reinterpret_cast<FATFS_INFO*>(fs);
  static const ZeroOracle none;
  const std::vector<SectorRun> skips = skip_runs(fat, t_zero ? *t_zero : none);
  if (skips.empty()) return fatfs_inode_walk(fs, start, end, flags, cb, ptr);
  StopWatch w{cb, ptr};
  TSK_INUM_T from = start;
  for (const auto& [a, b] : skips) g_skipped += b - a + 1;
  for (const auto& [a, b] : skips) {
    const TSK_INUM_T to = FATFS_SECT_2_INODE(fat, a) - 1;
    if (fatfs_inode_walk(fs, from, to, flags, forward, &w)) return 1;
    if (w.stopped) return 0;
    from = FATFS_SECT_2_INODE(fat, b + 1);
  }
  return fatfs_inode_walk(fs, from, end, flags, forward, &w);
}

bool is_fatxx(const TSK_FS_INFO* fs) {
  return fs->ftype == TSK_FS_TYPE_FAT12 || fs->ftype == TSK_FS_TYPE_FAT16 ||
         fs->ftype == TSK_FS_TYPE_FAT32;
}

}  // namespace

std::optional<std::vector<std::pair<uint64_t, uint64_t>>> fat_unallocated_sectors(TSK_FS_INFO* fs) {
  if (!g_enabled.load() || !fs || !is_fatxx(fs) || fs->endian != TSK_LIT_ENDIAN)
    return std::nullopt;
  auto* fat = reinterpret_cast<FATFS_INFO*>(fs);
  const uint64_t cs = fat->csize;
  const TSK_DADDR_T first = fat->firstclustsect, end = fs->last_block_act;
  if (cs == 0 || first > end) return std::nullopt;
  const std::vector<uint8_t> hint = free_hint(fat);
  if (hint.empty()) return std::nullopt;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  uint64_t sampled = 0;
  // As fatfs_block_walk goes: cluster by cluster from the first data sector, each unallocated one
  // reported sector by sector up to the walk's end (the last cluster may be cut short).
  for (TSK_DADDR_T addr = first; addr <= end; addr += cs) {
    const uint64_t clust = FATFS_SECT_2_CLUST(fat, addr);
    int8_t a;
    if (clust < hint.size() && hint[static_cast<size_t>(clust)]) {
      a = 0;  // FAT entry 0: TSK's getFAT gives 0, which is unallocated
      if ((++sampled & 4095) == 1 &&
          fatfs_is_sectalloc(fat, addr) != 0) {  // the premise, spot-checked
        tsk_error_reset();
        return std::nullopt;
      }
    } else {
      a = fatfs_is_sectalloc(fat, addr);
    }
    if (a < 0) {
      tsk_error_reset();
      return std::nullopt;  // TSK's walk stops here with its error: let it say so
    }
    if (a != 0) continue;
    const TSK_DADDR_T last = std::min<TSK_DADDR_T>(addr + cs - 1, end);
    if (!out.empty() && out.back().second + 1 == addr)
      out.back().second = last;
    else
      out.push_back({addr, last});
  }
  return out;
}

FatOrphanFilter::FatOrphanFilter(TSK_FS_INFO* fs, ZeroOracle zero) : zero_(std::move(zero)) {
  if (!g_enabled.load() || !fs || t_filtered || !is_fatxx(fs)) return;
  if (fs->inode_walk != fatfs_inode_walk) return;
  fs->inode_walk = filtered_walk;
  t_filtered = fs;
  t_zero = &zero_;
  fs_ = fs;
}

FatOrphanFilter::~FatOrphanFilter() {
  if (!fs_) return;
  fs_->inode_walk = fatfs_inode_walk;
  t_filtered = nullptr;
  t_zero = nullptr;
}

void set_fat_orphan_filter(bool on) {
  g_enabled.store(on);
}
uint64_t fat_orphan_sectors_skipped() {
  return g_skipped.load();
}

}  // namespace safehold::fs::detail
