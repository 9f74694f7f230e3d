// LVM2's text metadata (the volume group's description in a physical volume's metadata area):
// sections `name { ... }` holding `key = value` lines, values being strings, numbers or lists,
// `#` comments. Parsed from hostile bytes: sizes, nesting and counts are bounded, numbers checked
// for overflow, and anything else is refused with the line it is on.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::fs::lvm::meta {

struct Value {
  std::optional<uint64_t> number;  // a non-negative integer
  std::optional<std::string> text;
  std::vector<Value> list;  // for [ ... ]
  bool is_list = false;
};

struct Section {
  std::string name;
  std::vector<std::pair<std::string, Value>> values;
  std::vector<std::unique_ptr<Section>> sections;

  const Value* value(std::string_view key) const;
  const Section* section(std::string_view key) const;
  std::optional<uint64_t> number(std::string_view key) const;
  std::optional<std::string> text(std::string_view key) const;
};

// Parses the text (at most 64 MiB, nesting at most 16 deep, at most 1,000,000 values). Throws
// std::runtime_error with the reason and line number when it is not LVM2 metadata text.
Section parse(std::string_view text);

}  // namespace safehold::fs::lvm::meta
