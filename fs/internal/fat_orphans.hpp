// A faster FAT orphan search with TSK's exact results (fs/ internal, and tests).
//
// A directory walk of a FAT filesystem ends with TSK's orphan search (tsk_fs_dir_find_orphans),
// an inode walk that reads every unallocated cluster one cluster at a time through TSK's image
// cache, looking for directory entries. With small clusters (512 bytes is common on SD cards) that
// is hundreds of thousands of cached reads: most of a FAT walk's time.
//
// While a FatOrphanFilter lives, that inode walk is split around the long runs of clusters where
// TSK's own walk would find nothing: clusters holding no sector of a directory whose every sector
// either is in an allocated cluster or starts with a 32-byte slot that TSK's own directory-entry
// test (FATFS_INFO::is_dentry, as the walk calls it for unallocated clusters) rejects. Finding
// them takes one bulk read of the free clusters (chunks known to hold zeros are not read). The
// clusters in between go through TSK's unchanged inode walk (fatfs_inode_walk) in order, so the
// callbacks, and the orphans found, are exactly those of the whole walk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

struct TSK_FS_INFO;

namespace safehold::fs::detail {

// True when the image bytes [offset, offset + length) are known to be zeros without reading them
// (E01 chunks already decoded as zeros); false when unknown.
using ZeroOracle = std::function<bool(uint64_t offset, uint64_t length)>;

class FatOrphanFilter {
 public:
  // Installs on FAT12/16/32 filesystems only (nothing happens for others). The filesystem must
  // only be used by this thread while the filter lives (Evidence holds its lock).
  explicit FatOrphanFilter(TSK_FS_INFO* fs, ZeroOracle zero = {});
  ~FatOrphanFilter();
  FatOrphanFilter(const FatOrphanFilter&) = delete;
  FatOrphanFilter& operator=(const FatOrphanFilter&) = delete;

 private:
  TSK_FS_INFO* fs_ = nullptr;
  ZeroOracle zero_;
};

// The unallocated sectors of a FAT12/16/32 filesystem as [first, last] sector runs, exactly those
// tsk_fs_block_walk(UNALLOC | AONLY) from first_block to last_block_act reports, from one read of
// the first FAT: a cluster whose entry there is 0 is one TSK reports unallocated; for any other
// cluster TSK's own fatfs_is_sectalloc decides. Nullopt when this does not apply (not FAT, turned
// off, the FAT unreadable, TSK failing on a cluster, or a sampled cluster disagreeing): then the
// caller runs TSK's block walk.
std::optional<std::vector<std::pair<uint64_t, uint64_t>>> fat_unallocated_sectors(TSK_FS_INFO* fs);

// The filter and fat_unallocated_sectors are on by default; tests turn them off to compare with
// TSK's plain walks.
void set_fat_orphan_filter(bool on);
// Sectors the filter kept away from TSK's walk so far (all threads; for tests).
uint64_t fat_orphan_sectors_skipped();

}  // namespace safehold::fs::detail
