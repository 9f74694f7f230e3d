// JSON output shared by every module: evidence strings are hostile, so nothing throws on them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace safehold::base {

// Serialises compactly; invalid UTF-8 from evidence becomes U+FFFD instead of throwing.
// Always use this (or dump with error_handler_t::replace) for JSON holding evidence strings.
std::string dump(const nlohmann::json& j, int indent = -1);

// Makes a string safe for a terminal or a log: control characters become \xNN escapes and
// invalid UTF-8 bytes are escaped, so names from evidence cannot spoof output.
std::string printable(const std::string& s);

}  // namespace safehold::base
