// The queue's PDQ index: multi-index hashing gives exactly the brute-force answers.
#include "scheduler/pdq_index.hpp"

#include <catch2/catch.hpp>
#include <random>

using namespace safehold::scheduler;

TEST_CASE("PDQ multi-index search equals brute force at distance 31 and around it",
          "[scheduler][pdq_index]") {
  std::mt19937_64 rng(7);
  PdqIndex index;
  std::vector<PdqBits> queries;
  uint32_t id = 0;
  for (int i = 0; i < 20000; ++i) index.add({rng(), rng(), rng(), rng()}, id++);
  for (int k = 0; k < 200; ++k) {
    PdqBits q{rng(), rng(), rng(), rng()};
    queries.push_back(q);
    for (int dist : {0, 1, 15, 16, 17, 30, 31, 32, 33, 40}) {
      PdqBits h = q;
      for (int b = 0; b < dist; ++b) h[(b * 37 + k) % 256 / 64] ^= 1ull << ((b * 37 + k) % 64);
      index.add(h, id++);
    }
  }
  index.build();
  for (auto& q : queries)
    for (int d : {0, 15, 31, 40}) REQUIRE(index.search(q, d) == index.brute_force(q, d));
  // Each query finds its planted hashes within 31: distances 0, 1, 15, 16, 17, 30, 31.
  for (auto& q : queries) {
    auto hits = index.search(q, 31);
    CHECK(hits.size() >= 7);
  }
}

TEST_CASE("PDQ hex parses as 256 bits, distance counts differing bits", "[scheduler][pdq_index]") {
  std::string a(64, '0'), b(64, '0');
  b[0] = 'f';
  b[63] = '1';
  CHECK(pdq_distance(*parse_pdq(a), *parse_pdq(b)) == 5);
  CHECK_FALSE(parse_pdq(std::string(63, '0')));
  CHECK_FALSE(parse_pdq(std::string(63, '0') + "g"));
}
