// libFuzzer target for the hash-set importers and the set-file reader (built with
// -DSAFEHOLD_FUZZ=ON and clang; see .ci/fuzz.sh). The first input byte picks the format (text,
// NSRL v2 CSV, VICS JSON); the rest is the file. Malformed input must end in ImportError or
// std::runtime_error, never a crash; an imported set must open and answer lookups. Then the same
// bytes are opened as a set file, which must be rejected or read in bounds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "hashset/hashset.hpp"

namespace hs = safehold::hashset;

namespace {
std::filesystem::path scratch(const char* name) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("safehold-fuzz-import-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir / name;
}

void write(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const hs::Format formats[] = {hs::Format::text, hs::Format::nsrl, hs::Format::vics};
  auto in = scratch("input"), out = scratch("set.hset");
  write(in, data + 1, size - 1);
  hs::ImportOptions o;
  o.format = formats[data[0] % 3];
  o.name = "fuzz";
  o.threads = 1;
  try {
    hs::import_hashset(in, out, o);
    auto set = hs::HashSet::open(out);
    hs::Digest d{};
    (void)set->find(d);
  } catch (const std::runtime_error&) {
  }
  write(out, data, size);
  try {
    auto set = hs::HashSet::open(out);
    hs::Digest d{};
    (void)set->find(d);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
