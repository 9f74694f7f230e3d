// The queue's PDQ index: multi-index hashing gives exactly the brute-force answers.
#include "scheduler/pdq_index.hpp"

#include <catch2/catch.hpp>
#include <random>

using namespace safehold::scheduler;

TEST_CASE("PDQ multi-index search equals brute force at distance 31 and around it",
          "[scheduler][pdq_index]") {
  // Every chunking: automatic (16-bit chunks at this size), and the 20- and 24-bit chunks of
  // larger indexes (13 and 11 chunks, probed within 2 flips at distance 31).
  const auto [bits, chunks] = GENERATE(table<int, size_t>({{0, 16}, {16, 16}, {20, 13}, {24, 11}}));
  INFO("chunk bits " << bits);
  std::mt19937_64 rng(7);
  PdqIndex index(bits);
  std::vector<PdqBits> queries;
  uint32_t id = 0;
  for (int i = 0; i < 20000; ++i) index.add({rng(), rng(), rng(), rng()}, id++);
  for (int k = 0; k < 200; ++k) {
    PdqBits q{rng(), rng(), rng(), rng()};
    queries.push_back(q);
    for (int dist : {0, 1, 2, 3, 15, 16, 17, 21, 22, 23, 30, 31, 32, 33, 40}) {
      PdqBits h = q;
      for (int b = 0; b < dist; ++b) h[(b * 37 + k) % 256 / 64] ^= 1ull << ((b * 37 + k) % 64);
      index.add(h, id++);
    }
  }
  index.build();
  CHECK(index.chunks() == chunks);
  // 120: more probes than hashes, answered by comparing with each.
  for (auto& q : queries)
    for (int d : {0, 2, 15, 31, 33, 40, 120})
      REQUIRE(index.search(q, d) == index.brute_force(q, d));
  // Each query finds its planted hashes within 31: distances 0..31 (12 of them).
  for (auto& q : queries) {
    auto hits = index.search(q, 31);
    CHECK(hits.size() >= 12);
  }
}

TEST_CASE("PDQ index chunks follow its size", "[scheduler][pdq_index]") {
  std::mt19937_64 rng(3);
  PdqIndex small, large;
  for (int i = 0; i < 1000; ++i) small.add({rng(), rng(), rng(), rng()}, i);
  for (int i = 0; i < 600000; ++i) large.add({rng(), rng(), rng(), rng()}, i);
  small.build();
  large.build();
  CHECK(small.chunks() == 16);  // 16-bit chunks at least
  CHECK(large.chunks() == 13);  // 600,000 hashes: 20 bits, 13 chunks of 19-20 bits
  const PdqBits q{rng(), rng(), rng(), rng()};
  PdqBits near = q;
  near[2] ^= 0xffffff;  // 24 bits differ
  large.add(near, 600000);
  large.build();
  CHECK(large.search(q, 31) == std::vector<std::pair<uint32_t, int>>{{600000, 24}});
}

TEST_CASE("PDQ hex parses as 256 bits, distance counts differing bits", "[scheduler][pdq_index]") {
  std::string a(64, '0'), b(64, '0');
  b[0] = 'f';
  b[63] = '1';
  CHECK(pdq_distance(*parse_pdq(a), *parse_pdq(b)) == 5);
  CHECK_FALSE(parse_pdq(std::string(63, '0')));
  CHECK_FALSE(parse_pdq(std::string(63, '0') + "g"));
}
