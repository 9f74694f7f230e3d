// Multi-index hashing over PDQ hashes (scheduler/pdq_index.hpp).
#include "scheduler/pdq_index.hpp"

#include <algorithm>
#include <array>
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

uint32_t PdqIndex::bits(const PdqBits& h, int start, int width) {
  const int word = start / 64, shift = start % 64;
  uint64_t v = h[word] >> shift;
  if (shift + width > 64 && word < 3) v |= h[word + 1] << (64 - shift);
  return static_cast<uint32_t>(v & ((uint64_t{1} << width) - 1));
}

namespace {

// Sorts `keyed` ((value << 32) | position) by value, stably, two 12-bit digits at a time (LSD
// radix: sequential passes, where counting into a table of 2^24 offsets would miss the cache on
// every hash).
void sort_by_value(std::vector<uint64_t>& keyed, int width) {
  std::vector<uint64_t> tmp(keyed.size());
  for (int shift = 32; shift < 32 + width; shift += 12) {
    std::array<size_t, 4097> count{};
    for (uint64_t k : keyed) ++count[((k >> shift) & 4095) + 1];
    for (size_t d = 1; d < count.size(); ++d) count[d] += count[d - 1];
    for (uint64_t k : keyed) tmp[count[(k >> shift) & 4095]++] = k;
    keyed.swap(tmp);
  }
}

}  // namespace

void PdqIndex::build() {
  if (hashes_.size() > UINT32_MAX) throw std::length_error("too many PDQ hashes for one index");
  int widest = chunk_bits_;
  if (widest == 0) widest = std::bit_width(hashes_.size());  // about one hash per chunk value
  widest = std::clamp(widest, 16, 24);
  const int m = (256 + widest - 1) / widest;
  chunks_.assign(static_cast<size_t>(m), {});
  std::vector<uint64_t> keyed(hashes_.size());
  for (int c = 0, start = 0; c < m; ++c) {
    Chunk& ch = chunks_[static_cast<size_t>(c)];
    ch.start = start;
    ch.width = 256 / m + (c < 256 % m ? 1 : 0);
    start += ch.width;
    for (uint32_t i = 0; i < hashes_.size(); ++i)
      keyed[i] = uint64_t{bits(hashes_[i], ch.start, ch.width)} << 32 | i;
    sort_by_value(keyed, ch.width);
    ch.positions.resize(keyed.size());
    ch.offsets.assign((size_t{1} << ch.width) + 1, 0);
    size_t v = 0;
    for (size_t i = 0; i < keyed.size(); ++i) {
      ch.positions[i] = static_cast<uint32_t>(keyed[i]);
      for (const uint64_t value = keyed[i] >> 32; v <= value; ++v)
        ch.offsets[v] = static_cast<uint32_t>(i);
    }
    for (; v < ch.offsets.size(); ++v) ch.offsets[v] = static_cast<uint32_t>(keyed.size());
  }
  built_ = true;
}

namespace {

// Every value within `flips` bit flips of v in `width` bits (v itself first), into out.
void neighbours(uint32_t v, int width, int flips, int from, std::vector<uint32_t>& out) {
  out.push_back(v);
  if (flips == 0) return;
  for (int b = from; b < width; ++b) neighbours(v ^ (1u << b), width, flips - 1, b + 1, out);
}

// Combinations of `width` bits taken up to `r` at a time.
double probes_per_chunk(int width, int r) {
  double total = 0, term = 1;
  for (int k = 0; k <= r; ++k) {
    total += term;
    term = term * (width - k) / (k + 1);
  }
  return total;
}

}  // namespace

std::vector<std::pair<uint32_t, int>> PdqIndex::search(const PdqBits& q, int max_distance) const {
  if (!built_) throw std::logic_error("PdqIndex::search before build()");
  if (max_distance < 0 || hashes_.empty()) return {};
  const int m = static_cast<int>(chunks_.size());
  const int r = std::min(max_distance, 255) / m;  // flips per chunk that must be probed
  double probes = 0;
  for (const Chunk& ch : chunks_) probes += probes_per_chunk(ch.width, r);
  if (probes > static_cast<double>(hashes_.size())) return brute_force(q, max_distance);
  // First every probed value of every chunk (their offsets prefetched), then the candidates'
  // positions, then their distances with the hashes prefetched ahead: the probes and comparisons
  // are cache misses, many in flight at once.
  thread_local std::vector<uint32_t> values, cand;
  thread_local std::vector<std::pair<uint32_t, int>> hits;
  cand.clear();
  hits.clear();
  constexpr size_t kAhead = 16;
  for (const Chunk& ch : chunks_) {
    values.clear();
    neighbours(bits(q, ch.start, ch.width), ch.width, r, 0, values);
    for (size_t i = 0; i < values.size(); ++i) {
      if (i + kAhead < values.size()) __builtin_prefetch(&ch.offsets[values[i + kAhead]]);
      const uint32_t v = values[i];
      cand.insert(cand.end(), ch.positions.begin() + ch.offsets[v],
                  ch.positions.begin() + ch.offsets[v + 1]);
    }
  }
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
