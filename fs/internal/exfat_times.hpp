// exFAT times in UTC (fs/ internal). An exFAT file directory entry stores its created, modified and
// accessed times as local wall-clock times plus, for each, a UTC-offset field (15-minute steps,
// valid when its top bit is set). TSK 4.11 ignores the offsets and converts the wall-clock time
// with mktime(), i.e. in the analysing machine's time zone. These are the times from the entry
// itself: wall clock minus its offset when the offset is valid; when it is not (writers that record
// none), the wall clock as if it were UTC, which is what TSK shows with TZ=UTC.
#pragma once

#include <cstdint>
#include <optional>

struct TSK_FS_INFO;

namespace safehold::fs::detail {

struct ExfatTime {
  int64_t seconds = 0;  // Unix seconds, UTC
  uint32_t nanos = 0;
};

struct ExfatTimes {
  std::optional<ExfatTime> created, modified, accessed;
};

// The times of the file directory entry at `inum` (TSK's inode address of an exFAT file), or
// nullopt when `fs` is not exFAT or the entry is not a file directory entry.
std::optional<ExfatTimes> exfat_times(TSK_FS_INFO* fs, uint64_t inum);

// One timestamp field: DOS date/time (u32, date in the high half), 10 ms increments (0-199),
// UTC-offset byte.
std::optional<ExfatTime> exfat_time(uint32_t stamp, uint8_t ten_ms, uint8_t utc_offset);

}  // namespace safehold::fs::detail
