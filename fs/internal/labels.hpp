// Volume labels of TSK filesystems: NTFS from $Volume's $VOLUME_NAME, exFAT from the root
// directory's label entry (both read directly: TSK's fsstat leaks (NTFS) or walks the whole
// allocation bitmap (exFAT)), others from TSK's fsstat text.
#pragma once

#include <tsk/libtsk.h>

#include <string>

namespace safehold::fs::detail {

// The filesystem's volume label; "" when it has none or it cannot be read.
std::string read_label(TSK_FS_INFO* fs);

}  // namespace safehold::fs::detail
