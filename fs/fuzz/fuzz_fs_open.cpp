// libFuzzer target for the volume and filesystem open path: an image (raw, or E01 when it carries
// the EWF signature) opened as Evidence, its volumes and filesystems discovered, every file walked
// (names, runs, times), the first files read, unallocated space listed. Seeded with small
// filesystems made by mkfs and with E01s (fs/fuzz/run.sh).
#include <cstring>
#include <span>

#include "fs/error.hpp"
#include "fs/evidence.hpp"
#include "fs/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  static const auto raw = fuzz::input_file("input.raw");
  static const auto e01 = fuzz::input_file("input.E01");
  const bool ewf = size >= 8 && std::memcmp(data, "EVF\x09\x0d\x0a\xff\x00", 8) == 0;
  const auto& path = ewf ? e01 : raw;
  fuzz::write_input(path, data, size);
  try {
    auto ev = Evidence::open(path);
    for (const auto& f : ev->filesystems()) {
      int files = 0;
      ev->walk(f.index, [&](const FileEntry& e) {
        if (e.type == "file" && files++ < 8)
          ev->read_file(f.index, e.inode, [](std::span<const std::byte>) { return true; });
        return files < 2000;
      });
      ev->unallocated(f.index);
    }
    ev->unpartitioned();
  } catch (const EvidenceError&) {
  }
  return 0;
}
