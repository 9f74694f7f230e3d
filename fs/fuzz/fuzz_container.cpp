// libFuzzer target for the disk containers: Safehold's own parsing (the signature detection of
// fs/internal/container.cpp and the QCOW header's backing file name), then the libqcow, libvhdi
// and libvmdk calls that open the image, TSK's reads through Safehold's callback image and the
// whole-image reader. Seeded with qemu-img output (fs/fuzz/run.sh).
#include <span>
#include <string>
#include <vector>

#include "fs/error.hpp"
#include "fs/fuzz/fuzz_common.hpp"
#include "fs/image.hpp"
#include "fs/internal/container.hpp"
#include "fs/reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  static const auto path = fuzz::input_file("input.img");
  try {
    container::qcow_backing(std::span<const unsigned char>(data, size), size, "input");
  } catch (const EvidenceError&) {
  }
  fuzz::write_input(path, data, size);
  std::string unsupported;
  container::detect(path, &unsupported);
  try {
    auto img = Image::open(path);
    std::vector<std::byte> buf(70000);
    for (uint64_t off : {uint64_t{0}, uint64_t{65530}, img->size() > 100 ? img->size() - 100 : 0}) {
      try {
        img->read(off, buf);
      } catch (const EvidenceError&) {
      }
    }
    ReadOptions o;
    o.threads = 1;
    o.length = 64u << 20;  // the header may claim far more media
    read_sequential(
        path, [&](uint64_t, std::span<const std::byte>) { return true; }, o);
  } catch (const EvidenceError&) {
  }
  return 0;
}
