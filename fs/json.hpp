// JSON views of fs/ values, shared by `vigil info`/`vigil ls` and by reports of other modules.
#pragma once

#include "fs/evidence.hpp"

#include <nlohmann/json.hpp>

namespace vigil::fs {

nlohmann::json to_json(const Volume& v);
nlohmann::json to_json(const FilesystemInfo& f);
nlohmann::json to_json(const FileEntry& e);
nlohmann::json to_json(const Problem& p);
nlohmann::json to_json(const EwfMetadata& m);
// `vigil info --json`: the image, its EWF metadata, volumes, filesystems and problems.
nlohmann::json describe(const Evidence& ev);

// Serialises compactly; invalid UTF-8 from evidence becomes U+FFFD instead of throwing.
// Always use this (or dump with error_handler_t::replace) for JSON holding evidence strings.
std::string dump(const nlohmann::json& j, int indent = -1);

// Makes a string safe for a terminal or a log: control characters become \xNN escapes and
// invalid UTF-8 bytes are escaped, so names from evidence cannot spoof output.
std::string printable(const std::string& s);

}  // namespace vigil::fs
