// Binary property lists ("bplist00") as iTunes/Finder backups store each file's metadata (an
// NSKeyedArchiver archive of MBFile in Manifest.db's `file` column). Every offset and count in the
// list is hostile: checked before use, with a depth limit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace safehold::fs::bplist {

struct Value {
  enum class Type { null, boolean, integer, real, date, data, string, uid, array, dict };
  Type type = Type::null;
  int64_t integer = 0;  // integer, boolean, uid
  double real = 0;      // real, date (seconds since 2001-01-01)
  std::string bytes;    // data; string as UTF-8
  std::vector<Value> items;
  std::map<std::string, Value> dict;
};

// Parses a whole binary property list; nullopt when it is not one or is damaged.
std::optional<Value> parse(std::span<const uint8_t> b);

// NSKeyedArchiver: the root object ($top.root) with every UID value in it (one level) replaced by
// the object it refers to; nullopt when the archive is not one.
std::optional<Value> keyed_root(const Value& archive);

}  // namespace safehold::fs::bplist
