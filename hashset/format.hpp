// The on-disk layout of a Safehold hash set (documented for other tools in docs/hashset.md).
// Everything little-endian; sections start on 4096-byte boundaries.
#pragma once

#include <cstdint>

namespace safehold::hashset::format {

inline constexpr char kMagic[8] = {'V', 'I', 'G', 'I', 'L', 'H', 'S', 'T'};
inline constexpr uint32_t kVersion = 1;
// Version 2: version 1 plus a section of known videos, found through the metadata's "videos":
// {"offset", "length", "count"}. Per video: u16 category id, u16 name length, u32 frame count,
// the name, then per frame 16 u16 words of the PDQ hash and a u8 quality.
inline constexpr uint32_t kVersionVideos = 2;
inline constexpr uint32_t kMaxVideoFrames = 1'000'000;
inline constexpr uint32_t kFlagIgnorable = 1;
inline constexpr uint32_t kAlign = 4096;
inline constexpr uint32_t kMaxIndexBits = 26;

// One sorted table per algorithm (0 md5, 1 sha1, 2 sha256). A record is the digest followed by
// a u16 category id. index[b] is the first record whose top index_bits bits are >= b; there are
// (1 << index_bits) + 1 entries of u32, the last one equal to count.
struct TableDesc {
  uint32_t algo;
  uint32_t record_size;
  uint64_t count;
  uint64_t records_offset;
  uint64_t index_offset;
  uint32_t index_bits;
  uint32_t reserved0;
  uint64_t reserved1;
};
static_assert(sizeof(TableDesc) == 48);

struct Header {
  char magic[8];             // "SAFEHOLDHST"
  uint32_t version;          // 1
  uint32_t flags;            // bit 0: ignorable
  uint64_t file_size;        // the whole file, to catch truncation
  uint64_t metadata_offset;  // UTF-8 JSON object: name, source_format, ignorable, records
  uint64_t metadata_length;
  uint64_t categories_offset;  // u32 count, then per id (0 = none, "") u16 length + bytes
  uint64_t categories_length;
  uint32_t category_count;
  uint32_t reserved;
  TableDesc tables[3];
};
static_assert(sizeof(Header) == 64 + 3 * 48);

}  // namespace safehold::hashset::format
