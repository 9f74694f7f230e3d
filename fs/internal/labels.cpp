#include "fs/internal/labels.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <vector>

namespace safehold::fs::detail {
namespace {

// A short UTF-16LE label as UTF-8 (labels are short: no surrogate pairs expected).
std::string utf16le_label(const uint8_t* b, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint32_t c = b[2 * i] | (b[2 * i + 1] << 8);
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    if (c < 0x80)
      out += static_cast<char>(c);
    else if (c < 0x800)
      out += {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
    else
      out += {static_cast<char>(0xE0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
              static_cast<char>(0x80 | (c & 0x3F))};
  }
  return out;
}

// exFAT: the volume label entry (type 0x83: character count, then up to 11 UTF-16LE characters)
// in the root directory's first cluster. Read directly because TSK 4.12's exFAT fsstat, the only
// other way, walks the whole allocation bitmap and takes minutes even on a 16 MiB volume.
std::string exfat_label(TSK_FS_INFO* fs) {
  uint8_t boot[512];
  if (tsk_fs_read(fs, 0, reinterpret_cast<char*>(boot), sizeof boot) != sizeof boot) {
    tsk_error_reset();
    return "";
  }
  const auto le32 = [](const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  };
  const unsigned sector_shift = boot[108], cluster_shift = boot[109];
  const uint32_t heap = le32(boot + 88), root = le32(boot + 96);
  if (sector_shift < 9 || sector_shift > 12 || sector_shift + cluster_shift > 25 || root < 2)
    return "";  // not a boot sector exFAT allows: no label rather than a guess
  const uint64_t at =
      (uint64_t{heap} << sector_shift) + (uint64_t{root - 2} << (sector_shift + cluster_shift));
  std::vector<uint8_t> dir(
      std::min<size_t>(size_t{1} << (sector_shift + cluster_shift), 64 * 1024));
  if (tsk_fs_read(fs, static_cast<TSK_OFF_T>(at), reinterpret_cast<char*>(dir.data()),
                  dir.size()) != static_cast<ssize_t>(dir.size())) {
    tsk_error_reset();
    return "";
  }
  for (size_t e = 0; e + 32 <= dir.size(); e += 32) {
    if (dir[e] == 0x00) break;  // end of directory
    if (dir[e] == 0x83) return utf16le_label(&dir[e + 2], std::min<size_t>(dir[e + 1], 11));
  }
  return "";
}

// NTFS: the label is $Volume's $VOLUME_NAME attribute (UTF-16LE). Read directly because TSK
// 4.11's NTFS fsstat leaks a buffer on every call (seen under LeakSanitizer).
std::string ntfs_label(TSK_FS_INFO* fs) {
  TSK_FS_FILE* file = tsk_fs_file_open_meta(fs, nullptr, 3);
  if (!file) {
    tsk_error_reset();
    return "";
  }
  std::unique_ptr<TSK_FS_FILE, decltype(&tsk_fs_file_close)> owner(file, &tsk_fs_file_close);
  const TSK_FS_ATTR* attr = tsk_fs_file_attr_get_type(file, TSK_FS_ATTR_TYPE_NTFS_VNAME, 0, 0);
  if (!attr || (attr->flags & TSK_FS_ATTR_NONRES) || !attr->rd.buf) {
    tsk_error_reset();
    return "";
  }
  return utf16le_label(attr->rd.buf, static_cast<size_t>(attr->size) / 2);
}

}  // namespace

// Parses the volume label from TSK's fsstat text (the only filesystem-independent way TSK has).
std::string read_label(TSK_FS_INFO* fs) {
  if (TSK_FS_TYPE_ISNTFS(fs->ftype)) return ntfs_label(fs);
  if (fs->ftype == TSK_FS_TYPE_EXFAT) return exfat_label(fs);
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (!f) return "";
  fs->fsstat(fs, f);
  std::fclose(f);
  tsk_error_reset();
  std::string text(buf ? buf : "", len);
  std::free(buf);
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n++ < 80) {
    for (const char* key :
         {"Volume Label (Boot Sector): ", "Volume Label (Root Directory): ",
          "Volume Label (from root directory): ", "Volume Name: ", "Volume Label: "}) {
      if (line.rfind(key, 0) == 0) {
        std::string v = line.substr(std::char_traits<char>::length(key));
        while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
        // TSK's placeholder for a FAT volume without a label is no label.
        if (v == "$EMPTY_VOLUME_LABEL") continue;
        if (!v.empty()) return v;
      }
    }
  }
  return "";
}

}  // namespace safehold::fs::detail
