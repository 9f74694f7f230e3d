// The queue's PDQ index: multi-index hashing over 256-bit PDQ hashes. A hash is cut into 16
// chunks of 16 bits; two hashes within distance d agree to within floor(d / 16) bits on at least
// one chunk (pigeonhole), so probing every chunk's table with its value and each value within
// that many bit flips finds every hash within d: the same answer as comparing with every hash
// (brute force), in a small part of the time. Exact for any d <= 255 (probes grow with d / 16).
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
  // Adds a hash with the caller's id; call build() before searching.
  void add(const PdqBits& h, uint32_t id);
  // Builds the 16 chunk tables (counting sort: 65,537 offsets and one id array per chunk).
  void build();
  size_t size() const { return hashes_.size(); }
  // Every (id, distance) with distance <= max_distance, ascending by id.
  std::vector<std::pair<uint32_t, int>> search(const PdqBits& q, int max_distance) const;
  // The same by comparing with every hash (for tests and the benchmark).
  std::vector<std::pair<uint32_t, int>> brute_force(const PdqBits& q, int max_distance) const;

 private:
  static uint16_t chunk(const PdqBits& h, int c) {
    return static_cast<uint16_t>(h[c / 4] >> (16 * (c % 4)));
  }
  void probe(int c, uint32_t value, std::vector<uint32_t>& candidates) const;
  std::vector<PdqBits> hashes_;
  std::vector<uint32_t> ids_;
  // Per chunk: offsets_[c][v]..offsets_[c][v + 1] index positions_[c] (positions in hashes_).
  std::array<std::vector<uint32_t>, 16> offsets_, positions_;
  bool built_ = false;
};

}  // namespace safehold::scheduler
