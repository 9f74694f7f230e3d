// Text for people and spreadsheets from hostile evidence strings: HTML escaping, CSV cells that
// no spreadsheet executes, ISO 8601 parsing and base64.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace safehold::report {

// Escapes a string for HTML text and double-quoted attributes: & < > " ' become entities; invalid
// UTF-8 becomes U+FFFD; control characters and the bidirectional overrides (which can make
// "gpj.exe" read as "exe.jpg") are shown as visible \xNN / \u{NNNN} escapes.
std::string html_escape(std::string_view s);

// One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF; a cell beginning with
// =, +, -, @, tab or CR is prefixed with ' so that no spreadsheet reads it as a formula (OWASP);
// invalid UTF-8 becomes U+FFFD.
std::string csv_cell(std::string_view s);
// The UTF-8 byte order mark, which tells spreadsheets the file's encoding.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Replaces invalid UTF-8 sequences with U+FFFD.
std::string valid_utf8(std::string_view s);

struct UtcTime {
  int64_t seconds = 0;  // Unix seconds
  uint32_t nanos = 0;
};
// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (a space instead of T accepted).
std::optional<UtcTime> parse_iso8601(std::string_view s);

std::string base64(std::string_view bytes);

}  // namespace safehold::report
