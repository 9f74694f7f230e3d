// ISO 8601 parsing and base64 for the report (escaping and CSV cells are base/text.hpp's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace safehold::report {

struct UtcTime {
  int64_t seconds = 0;  // Unix seconds
  uint32_t nanos = 0;
};
// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (a space instead of T accepted).
std::optional<UtcTime> parse_iso8601(std::string_view s);

std::string base64(std::string_view bytes);

}  // namespace safehold::report
