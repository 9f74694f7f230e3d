// libFuzzer target for the phone extraction archives (fs/internal/archive.cpp): the ZIP central
// directory (EOCD search, zip64 records, entries and their extra fields), the TAR headers (ustar,
// GNU base-256 numbers and long names, pax records), and reading every member (stored, deflate
// with its CRC-32, TAR content), and an Android backup's zlib stream read as the TAR it holds.
// Seeded with zip and tar output and a deflated TAR (fs/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "fs/error.hpp"
#include "fs/internal/archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  archive::MemoryBytes in(std::span<const uint8_t>(data, size));
  // The input as a ZIP, as a TAR, and as the zlib stream of an Android backup holding a TAR.
  for (int mode = 0; mode < 3; ++mode) {
    const auto kind = mode == 0 ? archive::Kind::zip : archive::Kind::tar;
    try {
      std::unique_ptr<archive::InflatedBytes> z;
      if (mode == 2) z = std::make_unique<archive::InflatedBytes>(in, 0);
      const archive::Bytes& src = z ? static_cast<const archive::Bytes&>(*z) : in;
      auto l = kind == archive::Kind::zip ? archive::list_zip(src, "input")
                                          : archive::list_tar(src, "input");
      size_t n = 0;
      for (auto& m : l.members) {
        if (++n > 64) break;
        uint64_t total = 0;
        archive::read_member(src, kind, m, [&](std::span<const std::byte> b) {
          total += b.size();
          return total < (8u << 20);  // a member may claim far more
        });
      }
    } catch (const EvidenceError&) {
    }
  }
  return 0;
}
