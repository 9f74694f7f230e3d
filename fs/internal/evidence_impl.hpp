// What fs/evidence.cpp (opening) and fs/evidence_walk.cpp (walking, reading) share: the owner of
// the libtsk handles behind an Evidence. Private to fs/.
#pragma once

#include <tsk/libtsk.h>

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "fs/evidence.hpp"
#include "fs/internal/lvm.hpp"
#include "fs/internal/tree.hpp"

namespace safehold::fs {
namespace detail {

struct FsHandle {
  TSK_FS_INFO* fs = nullptr;
  const TSK_POOL_INFO* pool = nullptr;  // APFS: the pool the volume lives in
  TSK_IMG_INFO* pool_img = nullptr;     // APFS: the pool's view of one volume
  uint64_t img_base = 0;                // image offset that fs block 0 maps to
  bool decrypted = false;               // read through a decrypted volume (Impl::decrypted)
  // An LVM logical volume read through its extents (not one contiguous image range): bytes of
  // the filesystem's image map to image bytes by lvm::to_image(extents, img_base, ...).
  std::vector<lvm::Extent> extents;
  // Recursive: a walk callback may read a file of the same filesystem.
  std::unique_ptr<std::recursive_mutex> lock = std::make_unique<std::recursive_mutex>();
};

inline std::optional<Timestamp> ts(time_t secs, uint32_t nanos) {
  if (secs == 0 && nanos == 0) return std::nullopt;
  return Timestamp{static_cast<int64_t>(secs), nanos};
}

}  // namespace detail

struct Evidence::Impl {
  std::vector<detail::FsHandle> fs;
  TSK_VS_INFO* vs = nullptr;
  std::vector<const TSK_POOL_INFO*> pools;
  std::vector<TSK_IMG_INFO*> decrypted;  // decrypted volumes, closed after their filesystems
  std::string scheme = "none";
  std::unique_ptr<detail::Tree> tree;  // a phone extraction (then `fs` is empty)

  ~Impl() {
    for (auto& h : fs) {
      if (h.fs) tsk_fs_close(h.fs);
      if (h.pool_img) tsk_img_close(h.pool_img);
    }
    for (auto* p : pools) tsk_pool_close(p);
    // Latest first: a logical volume read through a decrypted volume closes before it.
    for (auto d = decrypted.rbegin(); d != decrypted.rend(); ++d) tsk_img_close(*d);
    if (vs) tsk_vs_close(vs);
  }
};

}  // namespace safehold::fs
