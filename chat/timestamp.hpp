// Timestamps as chat apps store them: seconds, milliseconds, microseconds or nanoseconds since
// the Unix epoch, Cocoa's 2001-01-01 or WebKit's 1601-01-01, recognised per column from the
// magnitude of its values (with the app's known epoch preferred when plausible).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::chat {

enum class Epoch { None, Any, Unix, Cocoa, WebKit };
enum class Unit { S, Ms, Us, Ns };

struct TimeScale {
  Epoch epoch = Epoch::None;  // None: not a time column
  Unit unit = Unit::S;
};

// Picks the scale under which the sample's median lands between 1990 and 2040, preferring
// `hint`; falls back to Unix seconds.
TimeScale detect_scale(const std::vector<long double>& sample, Epoch hint);

// Nanoseconds since the Unix epoch for a value in a scale; nullopt when out of range.
std::optional<int64_t> to_unix_ns(long double value, TimeScale scale);

// UTC ISO 8601 with as many fraction digits as the value carries: 2013-10-29T16:56:28.038Z.
std::string iso8601_ns(int64_t unix_ns);

// An ISO 8601 / RFC 3339 text time ("2021-12-01T15:38:34.123000+00:00", "...Z", a space for
// the T; no zone read as UTC) in UTC as iso8601_ns gives it; nullopt when it is not one.
std::optional<std::string> iso8601_to_utc(std::string_view text);

// A value in its column's scale; when the value is implausible there (mixed units in one column,
// as iOS has), the unit is re-detected for this value alone.
// round_us: the value came from a double; round to microseconds.
std::optional<std::string> format_time(long double value, TimeScale scale, bool round_us = false);

}  // namespace safehold::chat
