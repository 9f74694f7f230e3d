// The report types `safehold carve --types` names, read from the type table the walkers fill
// (carve/walker.hpp, Registry::types()): groups, aliases, and validation of a `--types` list.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace safehold::carve {

// Every media type name, in the table's order (the walkers' probe order).
const std::vector<std::string>& media_types();
// Parses "media", "chat", "all" or a comma list of type names and aliases (jpg, heic, wmv);
// throws std::invalid_argument naming the unknown type.
std::set<std::string> parse_types(const std::string& spec);

}  // namespace safehold::carve
