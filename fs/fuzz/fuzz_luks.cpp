// libFuzzer target for Safehold's LUKS reader (fs/internal/luks.cpp): the LUKS1 header and key
// slots, the LUKS2 binary header and JSON metadata (key slots, segments, digests, base64), then
// a passphrase tried on every key slot (PBKDF2 iterations capped so that a run stays short: a
// hostile header may ask for 2^32) and a sector of the payload decrypted with the key slot's
// cipher. Seeded with cryptsetup luksFormat output (fs/fuzz/run.sh).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fs/error.hpp"
#include "fs/internal/luks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  const luks::ReadFn read = [&](uint64_t off, void* buf, size_t n) {
    if (off > size || n > size - off) return false;
    std::memcpy(buf, data + off, n);
    return true;
  };
  try {
    luks::Header h = luks::parse(read, size, "input");
    for (auto& k : h.slots) k.iterations = std::min<uint32_t>(k.iterations, 16);
    for (auto& d : h.digests) d.iterations = std::min<uint32_t>(d.iterations, 16);
    auto mk = luks::unlock(h, read, "fuzz", "input");
    std::vector<uint8_t> key(h.key_size ? h.key_size : 32, 0x5a);
    luks::Cipher c(h.encryption, mk ? *mk : key, "input");
    std::vector<uint8_t> sector(h.sector_size);
    if (read(h.payload_offset, sector.data(), sector.size()))
      c.decrypt(sector.data(), sector.size(), h.sector_size, h.iv_tweak, 512);
    luks::describe(h);
  } catch (const EvidenceError&) {
  }
  return 0;
}
