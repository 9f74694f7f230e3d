// What the TSK callback images of fs/internal (container, LUKS, BitLocker, LVM logical volume)
// share. Private to fs/.
#pragma once

#include <tsk/libtsk.h>

#include <cinttypes>
#include <string>

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

}  // namespace safehold::fs::detail
