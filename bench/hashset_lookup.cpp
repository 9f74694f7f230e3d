// hashset_lookup SET N SEED PROBES: lookup rates on a set made from `hashset_gen 0 N SEED`, with
// PROBES random present digests and PROBES random absent ones: one by one (HashSet::find), batched
// with prefetching (find_many) on one thread, and batched on every core. Checks every answer.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "bench/hashset_gen.hpp"
#include "hashset/hashset.hpp"

using namespace safehold::hashset;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: hashset_lookup SET N SEED PROBES\n");
    return 1;
  }
  auto set = HashSet::open(argv[1]);
  uint64_t n = std::strtoull(argv[2], nullptr, 10), seed = std::strtoull(argv[3], nullptr, 10);
  size_t probes = std::strtoull(argv[4], nullptr, 10);
  std::mt19937_64 rng(42);
  bool failed = false;
  for (bool present : {true, false}) {
    std::vector<uint8_t> packed(probes * 16);
    for (size_t i = 0; i < probes; ++i) {
      uint64_t k = present ? rng() % n : n + rng() % n;
      safehold::bench::digest(seed, k, &packed[i * 16]);
    }
    std::vector<int32_t> out(probes);
    // One by one.
    auto t = std::chrono::steady_clock::now();
    size_t found = 0;
    for (size_t i = 0; i < probes; ++i) {
      Digest d;
      d.algo = Algo::md5;
      std::memcpy(d.bytes.data(), &packed[i * 16], 16);
      found += set->find(d) >= 0;
    }
    double single = static_cast<double>(probes) / seconds_since(t);
    // Batched, one thread.
    t = std::chrono::steady_clock::now();
    set->find_many(Algo::md5, packed.data(), probes, out.data());
    double batched = static_cast<double>(probes) / seconds_since(t);
    size_t found_b = 0;
    for (auto v : out) found_b += v >= 0;
    // Batched, every core.
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    t = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < threads; ++w)
      pool.emplace_back([&, w] {
        size_t lo = probes * w / threads, hi = probes * (w + 1) / threads;
        set->find_many(Algo::md5, packed.data() + lo * 16, hi - lo, out.data() + lo);
      });
    for (auto& th : pool) th.join();
    double parallel = static_cast<double>(probes) / seconds_since(t);
    size_t want = present ? probes : 0;
    if (found != want || found_b != want) failed = true;
    std::printf(
        "%s\t%zu probes\tfound %zu\tone-by-one %.2f M/s\tbatched %.2f M/s\tbatched x%u threads "
        "%.2f M/s\n",
        present ? "present" : "absent", probes, found_b, single / 1e6, batched / 1e6, threads,
        parallel / 1e6);
  }
  if (failed) std::fprintf(stderr, "hashset_lookup: wrong answers\n");
  return failed ? 1 : 0;
}
