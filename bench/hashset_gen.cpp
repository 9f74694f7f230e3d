// hashset_gen FIRST COUNT SEED: writes COUNT lines of hex MD5-sized digests digest(FIRST..) to
// stdout, fast (the 50-million-entry benchmark list is generated, never stored in git).
#include "bench/hashset_gen.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: hashset_gen FIRST COUNT SEED > list.txt\n");
    return 1;
  }
  uint64_t first = std::strtoull(argv[1], nullptr, 10), count = std::strtoull(argv[2], nullptr, 10);
  uint64_t seed = std::strtoull(argv[3], nullptr, 10);
  static const char* hex = "0123456789abcdef";
  std::vector<char> buf(33 << 16);
  size_t pos = 0;
  for (uint64_t i = first; i < first + count; ++i) {
    uint8_t d[16];
    safehold::bench::digest(seed, i, d);
    for (int k = 0; k < 16; ++k) {
      buf[pos++] = hex[d[k] >> 4];
      buf[pos++] = hex[d[k] & 15];
    }
    buf[pos++] = '\n';
    if (pos == buf.size()) {
      std::fwrite(buf.data(), 1, pos, stdout);
      pos = 0;
    }
  }
  std::fwrite(buf.data(), 1, pos, stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
