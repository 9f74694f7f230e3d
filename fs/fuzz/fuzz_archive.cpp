// libFuzzer target for the phone extraction archives (fs/internal/archive.cpp): the ZIP central
// directory (EOCD search, zip64 records, entries and their extra fields), the TAR headers (ustar,
// GNU base-256 numbers and long names, pax records), and reading every member (stored, deflate
// with its CRC-32, TAR content). Seeded with zip and tar output (fs/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fs/error.hpp"
#include "fs/internal/archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  archive::MemoryBytes in(std::span<const uint8_t>(data, size));
  for (auto kind : {archive::Kind::zip, archive::Kind::tar}) {
    try {
      auto l = kind == archive::Kind::zip ? archive::list_zip(in, "input")
                                          : archive::list_tar(in, "input");
      size_t n = 0;
      for (auto& m : l.members) {
        if (++n > 64) break;
        uint64_t total = 0;
        archive::read_member(in, kind, m, [&](std::span<const std::byte> b) {
          total += b.size();
          return total < (8u << 20);  // a member may claim far more
        });
      }
    } catch (const EvidenceError&) {
    }
  }
  return 0;
}
