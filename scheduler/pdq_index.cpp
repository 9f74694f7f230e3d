// Multi-index hashing over PDQ hashes (scheduler/pdq_index.hpp).
#include "scheduler/pdq_index.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace safehold::scheduler {

std::optional<PdqBits> parse_pdq(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  PdqBits out{};
  for (size_t i = 0; i < 64; ++i) {
    char ch = hex[i];
    int v = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (v < 0) return std::nullopt;
    // Digit i is bit position 255 - 4 * i .. 252 - 4 * i of the 256-bit number.
    size_t bit = 252 - 4 * i;
    out[bit / 64] |= static_cast<uint64_t>(v) << (bit % 64);
  }
  return out;
}

int pdq_distance(const PdqBits& a, const PdqBits& b) {
  return std::popcount(a[0] ^ b[0]) + std::popcount(a[1] ^ b[1]) + std::popcount(a[2] ^ b[2]) +
         std::popcount(a[3] ^ b[3]);
}

void PdqIndex::add(const PdqBits& h, uint32_t id) {
  hashes_.push_back(h);
  ids_.push_back(id);
  built_ = false;
}

void PdqIndex::build() {
  if (hashes_.size() > UINT32_MAX) throw std::length_error("too many PDQ hashes for one index");
  for (int c = 0; c < 16; ++c) {
    auto& off = offsets_[c];
    off.assign(65537, 0);
    for (auto& h : hashes_) ++off[chunk(h, c) + 1];
    for (size_t v = 1; v < off.size(); ++v) off[v] += off[v - 1];
    auto& pos = positions_[c];
    pos.resize(hashes_.size());
    std::vector<uint32_t> next(off.begin(), off.end() - 1);
    for (uint32_t i = 0; i < hashes_.size(); ++i) pos[next[chunk(hashes_[i], c)]++] = i;
  }
  built_ = true;
}

void PdqIndex::probe(int c, uint32_t value, std::vector<uint32_t>& candidates) const {
  const auto& off = offsets_[c];
  const auto& pos = positions_[c];
  candidates.insert(candidates.end(), pos.begin() + off[value], pos.begin() + off[value + 1]);
}

std::vector<std::pair<uint32_t, int>> PdqIndex::search(const PdqBits& q, int max_distance) const {
  if (!built_) throw std::logic_error("PdqIndex::search before build()");
  std::vector<std::pair<uint32_t, int>> hits;
  if (max_distance < 0 || hashes_.empty()) return hits;
  const int r = std::min(max_distance, 255) / 16;  // flips per chunk that must be probed
  // First the candidates' positions (contiguous runs of the chunk tables), then their distances,
  // with the hashes prefetched ahead: the comparisons are cache misses, many in flight at once.
  thread_local std::vector<uint32_t> cand;
  cand.clear();
  for (int c = 0; c < 16; ++c) {
    uint32_t v = chunk(q, c);
    probe(c, v, cand);
    if (r >= 1)
      for (int b = 0; b < 16; ++b) probe(c, v ^ (1u << b), cand);
    if (r >= 2) {
      // Larger radii: every value within r flips, enumerated as 16-bit masks of popcount 2..r.
      for (uint32_t m = 1; m < 65536; ++m) {
        int pc = std::popcount(m);
        if (pc >= 2 && pc <= r) probe(c, v ^ m, cand);
      }
    }
  }
  constexpr size_t kAhead = 16;
  for (size_t i = 0; i < cand.size(); ++i) {
    if (i + kAhead < cand.size()) __builtin_prefetch(&hashes_[cand[i + kAhead]]);
    int d = pdq_distance(hashes_[cand[i]], q);
    if (d <= max_distance) hits.emplace_back(cand[i], d);
  }
  // A hash found through several chunks is reported once.
  std::sort(hits.begin(), hits.end());
  hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
  for (auto& h : hits) h.first = ids_[h.first];
  std::sort(hits.begin(), hits.end());
  return hits;
}

std::vector<std::pair<uint32_t, int>> PdqIndex::brute_force(const PdqBits& q,
                                                            int max_distance) const {
  std::vector<std::pair<uint32_t, int>> hits;
  for (size_t i = 0; i < hashes_.size(); ++i) {
    int d = pdq_distance(hashes_[i], q);
    if (d <= max_distance) hits.emplace_back(ids_[i], d);
  }
  std::sort(hits.begin(), hits.end());
  return hits;
}

}  // namespace safehold::scheduler
