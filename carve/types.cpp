#include "carve/types.hpp"

#include <stdexcept>

#include "carve/walker.hpp"

namespace safehold::carve {

namespace {

std::vector<std::string> names_of(Category c) {
  std::vector<std::string> out;
  for (auto& row : Registry::builtin().types())
    if (row.category == c) out.emplace_back(row.info->name);
  return out;
}

}  // namespace

const std::vector<std::string>& media_types() {
  static const std::vector<std::string> t = names_of(Category::media);
  return t;
}

std::set<std::string> parse_types(const std::string& spec) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string item =
        spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    const bool all = item == "all";
    if (all || item == "media" || item == "chat") {
      for (auto c : {Category::media, Category::chat})
        if (all || (c == Category::media) == (item == "media"))
          for (auto& n : names_of(c)) out.insert(n);
      continue;
    }
    const TypeRow* row = Registry::builtin().find_type(item);
    if (!row) {
      std::string list;
      for (auto& r : Registry::builtin().types())
        list += (list.empty() ? "" : ", ") + std::string(r.info->name);
      throw std::invalid_argument("unknown type '" + item +
                                  "' (use media, chat, all or a list of: " + list + ")");
    }
    out.insert(std::string(row->info->name));
  }
  if (out.empty()) throw std::invalid_argument("no type given");
  return out;
}

}  // namespace safehold::carve
