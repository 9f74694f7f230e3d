// Telegram iOS's Postbox store (postbox/db/db_sqlite): key-value tables tN (key, value) whose
// values are PostboxEncoder objects (keyed fields, little-endian, type tags) and whose message
// history records have the layout iLEAPP's telegramMessages (after stek29's gist) reads. Every
// reader bounds its sizes, counts and recursion and returns nullopt on anything it cannot read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::chat {

// A message history key: big-endian peer id (int64), namespace, timestamp (Unix seconds), id.
struct PostboxKey {
  int64_t peer = 0;
  int32_t ns = 0;
  int32_t timestamp = 0;
  int32_t id = 0;
};
std::optional<PostboxKey> parse_postbox_key(std::string_view key);

struct PostboxMessage {
  uint32_t flags = 0;  // 4: incoming
  uint32_t tags = 0;   // 1 photo/video, 2 file, 4 music, 16 voice/round video, 64 live location
  std::optional<int64_t> author;
  std::optional<int64_t> forwarded_from;
  std::string text;
  // Root-object type hashes of the embedded media (murmur3 of the Swift class name).
  std::vector<int32_t> media_types;
  size_t referenced_media = 0;
};
std::optional<PostboxMessage> parse_postbox_message(std::string_view value);

// A peer record (the root object of a peers table value): "first last", or the title of a group
// or channel, with " (@username)" when there is one. nullopt when the value is no such object.
std::optional<std::string> postbox_peer_name(std::string_view value);
// The type hash of a Postbox value's root object ("_").
std::optional<int32_t> postbox_root_type(std::string_view value);

// MurmurHash3 x86_32 (little-endian blocks).
uint32_t murmur3_32(std::string_view data, uint32_t seed);
// MurmurHash3 x86_32 with Postbox's seed (4157243346), as Postbox names a class in an encoded
// object: TelegramUser 0x9E68A52B, TelegramMediaFile 665733176.
int32_t postbox_type_hash(std::string_view class_name);

}  // namespace safehold::chat
