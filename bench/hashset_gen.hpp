// Deterministic pseudo-random MD5-sized digests for the hash-set benchmark: digest(i) is the same
// in the generator (text lists) and in the lookup driver (probes), so probes for "present"
// take i < N and probes for "absent" take i >= N.
#pragma once

#include <cstdint>
#include <cstring>

namespace safehold::bench {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline void digest(uint64_t seed, uint64_t i, uint8_t out[16]) {
  uint64_t a = splitmix64(seed ^ (2 * i)), b = splitmix64(seed ^ (2 * i + 1));
  std::memcpy(out, &a, 8);
  std::memcpy(out + 8, &b, 8);
}

}  // namespace safehold::bench
