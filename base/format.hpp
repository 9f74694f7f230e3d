// Formatting for people and records: one ISO 8601 UTC formatter and byte counts.
#pragma once

#include <cstdint>
#include <string>

namespace safehold::base {

// ISO 8601 UTC, "2024-01-02T03:04:05Z"; a fraction (trailing zeros dropped) when nanos != 0.
std::string iso8601(int64_t unix_seconds, uint32_t nanos = 0);

// A byte count for people: "512 B", "1.5 KiB", "931.3 GiB" (powers of 1024, one decimal).
std::string human_size(uint64_t bytes);
// For progress bars and rates (bytes or bytes per second): one decimal at every size, "0.5 B",
// "12.3 MiB".
std::string human_bytes(double bytes);

}  // namespace safehold::base
