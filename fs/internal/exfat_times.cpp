#include "fs/internal/exfat_times.hpp"

#include <tsk/fs/tsk_fatfs.h>
#include <tsk/libtsk.h>

#include "tsk_fs_i.h"  // fs/internal/tsk_private: see there

namespace safehold::fs::detail {

namespace {

// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<ExfatTime> exfat_time(uint32_t stamp, uint8_t ten_ms, uint8_t utc_offset) {
  const unsigned sec2 = stamp & 0x1f, minute = (stamp >> 5) & 0x3f, hour = (stamp >> 11) & 0x1f;
  const unsigned day = (stamp >> 16) & 0x1f, month = (stamp >> 21) & 0x0f;
  const unsigned year = 1980 + (stamp >> 25);
  if (stamp == 0 || day == 0 || month == 0 || month > 12 || hour > 23 || minute > 59 || sec2 > 29 ||
      ten_ms > 199)
    return std::nullopt;
  ExfatTime t;
  t.seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + sec2 * 2 +
              ten_ms / 100;
  t.nanos = static_cast<uint32_t>(ten_ms % 100) * 10000000u;
  if (utc_offset & 0x80) {
    // A signed 7-bit count of 15-minute intervals east of UTC.
    int v = utc_offset & 0x7f;
    if (v & 0x40) v -= 0x80;
    t.seconds -= int64_t{v} * 15 * 60;
  }
  return t;
}

std::optional<ExfatTimes> exfat_times(TSK_FS_INFO* fs, uint64_t inum) {
  if (fs->ftype != TSK_FS_TYPE_EXFAT || inum < fs->first_inum || inum > fs->last_inum)
    return std::nullopt;
  auto* fat = reinterpret_cast<FATFS_INFO*>(fs);
  FATFS_DENTRY d{};
  if (fatfs_dentry_load(fat, &d, static_cast<TSK_INUM_T>(inum)) != 0) {
    tsk_error_reset();
    return std::nullopt;
  }
  const uint8_t* b = d.data;
  if ((b[0] & 0x7f) != 0x05) return std::nullopt;  // 0x85 file, 0x05 deleted file
  auto u32 = [&](int at) {
    return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 |
           uint32_t(b[at + 3]) << 24;
  };
  ExfatTimes t;
  t.created = exfat_time(u32(8), b[20], b[22]);
  t.modified = exfat_time(u32(12), b[21], b[23]);
  t.accessed = exfat_time(u32(16), 0, b[24]);
  return t;
}

}  // namespace safehold::fs::detail
