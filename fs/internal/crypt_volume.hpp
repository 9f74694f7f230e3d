// Encrypted volumes found on a volume of an image (or the whole image): recognised by their own
// header, described for `info` (scheme, cipher, identifier, what unlocks them) and, given a key,
// decrypted on the fly as a TSK callback image of their own, which the filesystem inside is
// opened on. Read: LUKS1 and LUKS2 (fs/internal/luks.hpp), BitLocker (fs/internal/bitlocker.hpp,
// libbde). Recognised only (listed as encrypted, raw sectors carved, a key refused): FileVault 2 /
// CoreStorage.
#pragma once

#include <tsk/libtsk.h>

#include <cstdint>
#include <optional>
#include <string>

#include "fs/image.hpp"
#include "fs/keys.hpp"

namespace safehold::fs::crypt {

struct Found {
  std::string scheme;        // "LUKS1", "LUKS2", "BitLocker"
  std::string cipher;        // "aes-xts-plain64, 512-bit key", "AES-XTS 128-bit"
  std::string identifier;    // the LUKS UUID, the BitLocker volume GUID
  std::string unlock;        // what would unlock it: "passphrase or key file", "recovery password"
  uint64_t data_offset = 0;  // bytes from the volume start to the encrypted data
  uint64_t data_size = 0;
  bool readable = true;  // false: recognised (FileVault 2) but not decrypted yet
  std::string why_not;   // when not readable for another reason: "libbde … cannot read …"
};

// What encryption the bytes [start, start + length) of the image hold; nullopt when none.
// Throws EvidenceError naming `name` when the header is recognised but damaged.
std::optional<Found> detect(const Image& image, uint64_t start, uint64_t length,
                            const std::string& name);

// The decrypted volume as a TSK image (close with tsk_img_close; it reads through `image`, which
// must outlive it). Throws EvidenceError naming `name` and the key's origin when the key does
// not unlock it (never naming the secret), or when it cannot be read.
TSK_IMG_INFO* open(const Image& image, uint64_t start, uint64_t length, const VolumeKey& key,
                   const std::string& name);

}  // namespace safehold::fs::crypt
