// Decoders of message bodies stored as serialised objects, shared by the readers and the generic
// reader: binary property lists and NSKeyedArchiver graphs (iOS apps), protobuf without a schema
// (wire format to a field tree), base64 around either, and JSON. Every decoder bounds its
// recursion depth, node count and sizes (evidence blobs may be hostile) and returns nullopt on
// anything it cannot read, never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace safehold::chat {

struct DecodeLimits {
  size_t max_depth = 64;
  size_t max_nodes = 100000;
  size_t max_bytes = 16u << 20;  // input size
};

// A decoded value. Dict keeps its keys in order (and allows repeats: repeated protobuf fields).
struct Node {
  struct Field;  // a key and its value (first, second)
  enum class Type { Null, Bool, Int, Real, String, Data, Array, Dict, Uid };
  Type type = Type::Null;
  bool b = false;
  int64_t i = 0;                                // Int, Uid, and a protobuf varint/fixed value
  double d = 0;                                 // Real (and a plist date, seconds since 2001-01-01)
  std::string s;                                // String (UTF-8) or Data bytes
  std::vector<Node> items;                      // Array
  std::vector<Field> fields;                    // Dict; a protobuf sub-message of a Data
  const Node* get(std::string_view key) const;  // first field with this key
};
struct Node::Field {
  std::string first;
  Node second;
};

// Binary property list (bplist00) to a tree; UIDs stay Uid nodes.
std::optional<Node> parse_bplist(std::string_view bytes, const DecodeLimits& lim = {});

// NSKeyedArchiver binary plist: the $top root with every UID resolved through $objects (cycles
// cut, shared objects copied up to the limits). NSDictionary becomes a Dict, NSArray/NSSet an
// Array, NSString/NSMutableString a String, NSData a Data; other objects a Dict of their keys
// with "$class" naming the class.
std::optional<Node> parse_keyed_archive(std::string_view bytes, const DecodeLimits& lim = {});

// Protobuf without a schema: fields in order, keyed by number ("1", "2", ...). Varints and
// fixed values are Int (fixed64 also as Real in d); length-delimited values are Data (String
// when valid UTF-8 text) with `fields` holding their parse as a sub-message when that parse
// consumes them exactly. nullopt unless the whole input is one valid message.
std::optional<Node> parse_protobuf(std::string_view bytes, const DecodeLimits& lim = {});

// Standard or URL-safe base64 (padding optional, whitespace skipped); nullopt when not base64.
std::optional<std::string> base64_decode(std::string_view text);

// JSON to a tree (objects to Dict, arrays to Array, numbers to Int or Real).
std::optional<Node> parse_json(std::string_view text, const DecodeLimits& lim = {});

struct DecodedBlob {
  std::string format;  // "nskeyedarchiver", "bplist", "protobuf", "json", with "base64+" before
  Node root;
  std::vector<std::string> strings;  // text candidates in tree order (plausible UTF-8)
};
// Tries each format in turn (a base64 text is decoded and tried again, once).
std::optional<DecodedBlob> decode_blob(std::string_view bytes, const DecodeLimits& lim = {});

// The message text of a decoded blob: a string under a key that names text (text, body,
// message, content, NS.string, ...), else the longest candidate.
std::optional<std::string> blob_text(const DecodedBlob& blob);

}  // namespace safehold::chat
