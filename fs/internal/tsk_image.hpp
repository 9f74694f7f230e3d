// What the TSK callback images of fs/internal (container, LUKS, BitLocker, LVM logical volume)
// share. Private to fs/.
#pragma once

#include <tsk/libtsk.h>

#include <cinttypes>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "fs/error.hpp"

namespace safehold::fs::detail {

// A callback image's failed read: sets TSK's error to "NAME: cannot read at byte offset OFF: WHY"
// and returns -1, as a TSK_IMG_INFO read callback does.
inline ssize_t tsk_read_failed(const std::string& name, TSK_OFF_T off, const std::string& why) {
  tsk_error_reset();
  tsk_error_set_errno(TSK_ERR_IMG_READ);
  tsk_error_set_errstr("%s: cannot read at byte offset %" PRId64 ": %s", name.c_str(),
                       static_cast<int64_t>(off), why.c_str());
  return -1;
}

// The callbacks of a TSK callback image whose TSK_IMG_INFO is the first member of its own struct.
struct TskCallbacks {
  ssize_t (*read)(TSK_IMG_INFO*, TSK_OFF_T, char*, size_t);
  void (*close)(TSK_IMG_INFO*);
  void (*stat)(TSK_IMG_INFO*, FILE*);
};

// Hands `disk` to TSK as a callback image of `size` bytes in `sector`-byte sectors: `Tsk` is the
// struct that starts with the TSK_IMG_INFO and whose `disk` points at it (freed by `cb.close`,
// which then owns the disk). When TSK refuses, throws EvidenceError("FAILURE (TSK's error)") and
// `disk` stays the caller's.
template <typename Tsk, typename Disk>
TSK_IMG_INFO* open_callback_image(std::unique_ptr<Disk>& disk, uint64_t size, unsigned sector,
                                  TskCallbacks cb, const std::string& failure) {
  auto* t = static_cast<Tsk*>(std::calloc(1, sizeof(Tsk)));
  if (!t) throw std::bad_alloc();
  t->disk = disk.get();
  TSK_IMG_INFO* img =
      tsk_img_open_external(t, static_cast<TSK_OFF_T>(size), sector, cb.read, cb.close, cb.stat);
  if (!img) {
    std::free(t);
    throw EvidenceError(failure + " (" + take_tsk_error() + ")");
  }
  disk.release();
  return img;
}

}  // namespace safehold::fs::detail
