// libFuzzer target for the E01 path: Safehold's chunk map (segment header, section descriptors,
// volume and table sections), the libewf calls that read the metadata, the TSK image backend's
// chunk reads and the whole-image reader. Seeded with real ewfacquire output (fs/fuzz/run.sh).
#include <span>
#include <vector>

#include "fs/error.hpp"
#include "fs/fuzz/fuzz_common.hpp"
#include "fs/image.hpp"
#include "fs/reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  static const auto path = fuzz::input_file("input.E01");
  fuzz::write_input(path, data, size);
  try {
    auto img = Image::open(path);
    // TSK's reads through the backend: the start, a chunk boundary, the end.
    std::vector<std::byte> buf(40000);
    for (uint64_t off : {uint64_t{0}, uint64_t{32760}, img->size() > 100 ? img->size() - 100 : 0}) {
      try {
        img->read(off, buf);
      } catch (const EvidenceError&) {
      }
    }
    // The whole-image reader, at most 64 MiB of media (the volume section may claim far more).
    ReadOptions o;
    o.threads = 1;
    o.length = 64u << 20;
    uint64_t seen = 0;
    read_sequential(
        path,
        [&](uint64_t, std::span<const std::byte> b) {
          seen += b.size();
          return true;
        },
        o);
  } catch (const EvidenceError&) {
  }
  return 0;
}
