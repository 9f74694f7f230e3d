// libFuzzer target for the binary property lists of iTunes/Finder backups (fs/internal/bplist.cpp:
// the trailer, offset table, every object type, NSKeyedArchiver's $top/$objects). Seeded with
// plistlib archives (fs/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fs/internal/bplist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  if (auto v = bplist::parse(std::span<const uint8_t>(data, size))) bplist::keyed_root(*v);
  return 0;
}
