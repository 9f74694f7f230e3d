// LUKS1 and LUKS2 volumes read without the kernel: the header and key slots are parsed here, a
// passphrase is turned into the master key with PBKDF2 and the anti-forensic merge (OpenSSL),
// and the payload is decrypted sector by sector (AES in XTS, CBC or ECB with the plain, plain64
// or ESSIV IVs of dm-crypt). libluksde 20200205 is not used: it reads LUKS1 only, and its
// volume open overflows a stack buffer on cryptsetup's default LUKS1 key size (512 bits).
// Every size and offset from the header is checked against the volume before it is used.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace safehold::fs::luks {

// Reads exactly n bytes of the volume at offset, or returns false.
using ReadFn = std::function<bool(uint64_t offset, void* buf, size_t n)>;

struct KeySlot {
  int id = 0;
  std::string kdf;   // "pbkdf2", "argon2i", "argon2id"
  std::string hash;  // PBKDF2's hash ("sha256"), the anti-forensic splitter's for LUKS1
  std::string af_hash;
  uint32_t iterations = 0;            // PBKDF2's iterations, Argon2's time cost
  uint32_t memory_kib = 0, cpus = 0;  // Argon2's memory cost and parallelism
  std::vector<uint8_t> salt;
  uint64_t area_offset = 0;  // bytes from the volume start
  uint64_t area_size = 0;
  uint32_t stripes = 0;
  uint32_t key_size = 0;   // bytes of the master key it holds
  std::string encryption;  // the key material's cipher ("aes-xts-plain64")
};

struct Digest {  // how a candidate master key is checked
  std::string hash;
  uint32_t iterations = 0;
  std::vector<uint8_t> salt, digest;
  std::vector<int> keyslots;
};

struct Header {
  int version = 0;         // 1 or 2
  std::string encryption;  // "aes-xts-plain64"
  std::string uuid;
  uint32_t key_size = 0;        // bytes
  uint64_t payload_offset = 0;  // bytes from the volume start
  uint64_t payload_size = 0;    // bytes
  uint32_t sector_size = 512;   // encryption sector of the payload
  uint64_t iv_tweak = 0;        // added to the sector number (LUKS2)
  std::vector<KeySlot> slots;   // active ones
  std::vector<Digest> digests;
};

// True when the first bytes are a LUKS header's magic ("LUKS\xba\xbe", version 1 or 2).
bool is_luks(std::span<const uint8_t> head);

// Parses the header of a volume of `volume_size` bytes. Throws EvidenceError naming `name` when it
// is not LUKS or its values are impossible (offsets outside the volume, sizes out of range).
Header parse(const ReadFn& read, uint64_t volume_size, const std::string& name);

// The master key the passphrase unlocks, or nullopt when no key slot accepts it. Throws
// EvidenceError naming `name` when no slot could even be tried (only Argon2 slots, an unknown
// cipher or hash).
std::optional<std::vector<uint8_t>> unlock(const Header& h, const ReadFn& read,
                                           std::string_view passphrase, const std::string& name);

// Decrypts sectors of one cipher ("aes-xts-plain64", "aes-cbc-essiv:sha256", ...) and key.
class Cipher {
 public:
  // Throws EvidenceError naming `name` for a cipher or key size Safehold cannot use.
  Cipher(const std::string& spec, std::span<const uint8_t> key, const std::string& name);
  ~Cipher();
  Cipher(const Cipher&) = delete;
  Cipher& operator=(const Cipher&) = delete;
  // Decrypts `len` bytes (a whole number of `sector_size` sectors) in place; `iv_sector` is the
  // IV's sector number of the first one (counted in `iv_unit`-byte units). False on failure.
  bool decrypt(uint8_t* buf, size_t len, uint32_t sector_size, uint64_t iv_sector,
               uint32_t iv_unit) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "aes-xts-plain64" and the names the cipher can be given in (for `info`).
std::string describe(const Header& h);

}  // namespace safehold::fs::luks
