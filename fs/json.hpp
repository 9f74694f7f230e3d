// JSON views of fs/ values, shared by `safehold info`/`safehold ls` and by reports of other
// modules.
#pragma once

#include <nlohmann/json.hpp>

#include "base/json.hpp"
#include "fs/evidence.hpp"

namespace safehold::fs {

nlohmann::json to_json(const Volume& v);
nlohmann::json to_json(const FilesystemInfo& f);
nlohmann::json to_json(const FileEntry& e);
nlohmann::json to_json(const Problem& p);
nlohmann::json to_json(const EwfMetadata& m);
// `safehold info --json`: the image, its EWF metadata, volumes, filesystems and problems.
nlohmann::json describe(const Evidence& ev);

}  // namespace safehold::fs
