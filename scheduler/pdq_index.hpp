// The queue's PDQ index: multi-index hashing over 256-bit PDQ hashes. A hash is cut into m chunks
// of about 256 / m bits each; two hashes within distance d agree to within floor(d / m) bits on at
// least one chunk (pigeonhole), so probing every chunk's table with its value and each value
// within that many bit flips finds every hash within d: the same answer as comparing with every
// hash (brute force), in a small part of the time. Exact for any d <= 255.
//
// The chunk width follows the index's size (about log2 of the number of hashes, 16 to 24 bits), so
// that a chunk value names about one hash: at 10 million hashes, 11 chunks of 23-24 bits probed
// within 2 flips (about 3,000 table probes and 4,000 candidates per query at distance 31) instead
// of 16 chunks of 16 bits within 1 flip (270 probes but 42,000 candidates, each a cache miss).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace safehold::scheduler {

// 256 bits as four 64-bit words; the hex is PDQ's own (64 hex digits, as carve writes it).
using PdqBits = std::array<uint64_t, 4>;
std::optional<PdqBits> parse_pdq(std::string_view hex);
int pdq_distance(const PdqBits& a, const PdqBits& b);

class PdqIndex {
 public:
  // chunk_bits: the widest chunk (16..24), or 0 to choose it from the size at build().
  explicit PdqIndex(int chunk_bits = 0) : chunk_bits_(chunk_bits) {}
  // Adds a hash with the caller's id; call build() before searching.
  void add(const PdqBits& h, uint32_t id);
  // Builds the chunk tables (counting sort: 2^width + 1 offsets and one id array per chunk).
  void build();
  size_t size() const { return hashes_.size(); }
  // The number of chunks build() chose.
  size_t chunks() const { return chunks_.size(); }
  // Every (id, distance) with distance <= max_distance, ascending by id.
  std::vector<std::pair<uint32_t, int>> search(const PdqBits& q, int max_distance) const;
  // The same by comparing with every hash (for tests and the benchmark).
  std::vector<std::pair<uint32_t, int>> brute_force(const PdqBits& q, int max_distance) const;

 private:
  struct Chunk {
    int start = 0, width = 0;  // bits [start, start + width) of the 256
    // offsets[v]..offsets[v + 1] index positions (positions in hashes_) of the hashes whose chunk
    // value is v.
    std::vector<uint32_t> offsets, positions;
  };
  static uint32_t bits(const PdqBits& h, int start, int width);
  int chunk_bits_;
  std::vector<PdqBits> hashes_;
  std::vector<uint32_t> ids_;
  std::vector<Chunk> chunks_;
  bool built_ = false;
};

}  // namespace safehold::scheduler
