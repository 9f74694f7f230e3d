// BitLocker volumes (Vista and later, BitLocker To Go) read through Debian's libbde 20190102,
// which reads the volume's bytes through a libbfio handle of our own over the image. Without a
// key the volume is described (cipher, volume GUID, the key protectors that would unlock it);
// with a recovery password, a password or a startup key file (.BEK) it is decrypted on the fly
// as a TSK callback image of our own, which the filesystem inside is opened on.
#pragma once

#include <tsk/libtsk.h>

#include <cstdint>
#include <functional>
#include <string>

#include "fs/keys.hpp"

namespace safehold::fs::bde {

// Reads exactly n bytes of the volume at offset, or returns false.
using ReadFn = std::function<bool(uint64_t offset, void* buf, size_t n)>;

// True when the volume's first sector is a BitLocker one: "-FVE-FS-" as the boot sector's OEM
// name (Vista and later), or BitLocker To Go's volume GUID at byte 424.
bool is_bitlocker(const uint8_t* head512);

struct Info {
  std::string cipher;      // "AES-XTS 128-bit"
  std::string identifier;  // the volume GUID, "8e6909f1-6ba3-49ea-bf8d-ec83fab656cd"
  std::string unlock;      // "recovery password or password"
  std::string unreadable;  // set when libbde cannot read its metadata: why
};

// What libbde reads of the volume without a key. Never throws for the volume's content: what
// libbde cannot read is said in Info::unreadable.
Info describe(const ReadFn& read, uint64_t size);

// The decrypted volume as a TSK image (close with tsk_img_close; `read` must stay valid until
// then). Throws EvidenceError naming `name` and the key's origin (never the secret) when the key
// does not unlock it, or when libbde cannot read it.
TSK_IMG_INFO* open(const ReadFn& read, uint64_t size, const VolumeKey& key,
                   const std::string& name);

}  // namespace safehold::fs::bde
