#include "base/format.hpp"

#include <cstdio>
#include <ctime>

namespace safehold::base {

std::string iso8601(int64_t unix_seconds, uint32_t nanos) {
  std::time_t secs = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (nanos) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09u", nanos);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    s += f;
  }
  return s + "Z";
}

namespace {
const char* scale_bytes(double& v) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return units[u];
}
}  // namespace

std::string human_size(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  return human_bytes(static_cast<double>(bytes));
}

std::string human_bytes(double bytes) {
  const char* unit = scale_bytes(bytes);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, unit);
  return buf;
}

}  // namespace safehold::base
