// The queue's PDQ index (scheduler/pdq_index.hpp) against brute force: N random 256-bit hashes
// plus planted near-duplicates of each query (distances spread over 0..31, and decoys at 32..40
// that must not be found), then queries per second of multi-index hashing, recall of the planted
// matches, and, on a sample of queries, that the index answers exactly what the brute-force loop
// does (every hash within 31, not only the planted ones). Run by bench/index.sh.
// usage: safehold_bench_pdq_index [N] [QUERIES] [BRUTE] [THREADS]  (defaults 10000000 10000 50 1)
#include "scheduler/pdq_index.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

using safehold::scheduler::PdqBits;
using safehold::scheduler::PdqIndex;
using Clock = std::chrono::steady_clock;

namespace {

PdqBits flip(PdqBits h, int bits, std::mt19937_64& rng) {
  std::vector<int> pos(256);
  for (int i = 0; i < 256; ++i) pos[i] = i;
  std::shuffle(pos.begin(), pos.end(), rng);
  for (int i = 0; i < bits; ++i) h[pos[i] / 64] ^= 1ull << (pos[i] % 64);
  return h;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  const size_t queries = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10'000;
  const size_t brute = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 50;
  const unsigned threads = argc > 4 ? std::atoi(argv[4]) : 1;
  std::mt19937_64 rng(20);
  PdqIndex index;
  auto t0 = Clock::now();
  for (size_t i = 0; i < n; ++i) index.add({rng(), rng(), rng(), rng()}, static_cast<uint32_t>(i));
  // Each query gets 3 planted near-duplicates (distances d, d/2, 31 - d) and one decoy at 32..40.
  std::vector<PdqBits> qs(queries);
  std::vector<std::vector<uint32_t>> planted(queries);
  uint32_t id = static_cast<uint32_t>(n);
  for (size_t k = 0; k < queries; ++k) {
    qs[k] = {rng(), rng(), rng(), rng()};
    int d = static_cast<int>(rng() % 32);
    for (int dist : {d, d / 2, 31 - d}) {
      index.add(flip(qs[k], dist, rng), id);
      planted[k].push_back(id++);
    }
    index.add(flip(qs[k], 32 + static_cast<int>(rng() % 9), rng), id++);
  }
  double fill = seconds_since(t0);
  t0 = Clock::now();
  index.build();
  double build = seconds_since(t0);
  std::printf("hashes: %zu (%zu random + %zu planted near-duplicates + %zu decoys)\n", index.size(),
              n, 3 * queries, queries);
  std::printf("generate: %.1f s; build: %.1f s\n", fill, build);

  // Multi-index hashing: every query, on `threads` threads.
  std::vector<std::vector<std::pair<uint32_t, int>>> found(queries);
  t0 = Clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t k = t; k < queries; k += threads) found[k] = index.search(qs[k], 31);
    });
  for (auto& th : pool) th.join();
  double mih = seconds_since(t0);
  size_t hit = 0, total = 0, decoys = 0;
  for (size_t k = 0; k < queries; ++k) {
    for (uint32_t p : planted[k]) {
      ++total;
      hit += std::any_of(found[k].begin(), found[k].end(), [&](auto& f) { return f.first == p; });
    }
    for (auto& f : found[k]) decoys += f.first >= n && f.second > 31;
  }
  std::printf("multi-index: %zu queries in %.2f s on %u thread(s): %.0f queries/s\n", queries, mih,
              threads, queries / mih);
  std::printf("planted recall: %zu/%zu (%.2f%%); results beyond 31: %zu\n", hit, total,
              100.0 * hit / total, decoys);

  // Brute force on a sample: the same answers, exactly.
  t0 = Clock::now();
  size_t same = 0;
  for (size_t k = 0; k < brute && k < queries; ++k)
    same += index.brute_force(qs[k], 31) == found[k];
  double bf = seconds_since(t0);
  size_t sample = std::min(brute, queries);
  std::printf("brute force: %zu queries in %.2f s: %.1f queries/s; identical answers: %zu/%zu\n",
              sample, bf, sample / bf, same, sample);
  return hit == total && same == sample ? 0 : 1;
}
