#include "fs/internal/crypt_volume.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "fs/internal/bitlocker.hpp"
#include "fs/internal/luks.hpp"
#include "fs/internal/tsk_image.hpp"

namespace safehold::fs::crypt {
namespace {

luks::ReadFn reader(const Image& image, uint64_t start, uint64_t length) {
  return [&image, start, length](uint64_t off, void* buf, size_t n) {
    if (off > length || n > length - off) return false;
    try {
      return image.read(start + off, std::span(static_cast<std::byte*>(buf), n)) == n;
    } catch (const EvidenceError&) {
      return false;
    }
  };
}

// The passphrase a key gives: the password itself, or a key file's whole content (as
// cryptsetup's --key-file reads it). Capped at 8 MiB, cryptsetup's own limit.
std::string passphrase(const VolumeKey& key, const std::string& name) {
  if (key.kind == SecretKind::password) return key.secret;
  if (key.kind != SecretKind::key_file)
    throw EvidenceError(name + ": " + key.origin + " gives a " + to_string(key.kind) +
                        ", but a LUKS volume is unlocked by a passphrase or a key file");
  std::ifstream in(key.secret, std::ios::binary);
  if (!in) throw EvidenceError(name + ": " + key.origin + ": its key file cannot be read");
  std::string s;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    s.append(buf, static_cast<size_t>(in.gcount()));
    if (s.size() > (8u << 20))
      throw EvidenceError(name + ": " + key.origin + ": its key file is larger than 8 MiB");
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return s;
}

// The decrypted payload of a LUKS volume. Reads whole encryption sectors of the image and
// decrypts them; TSK's image lock serialises calls.
struct LuksDisk {
  const Image* image;
  uint64_t data_start;  // image offset of the payload
  uint64_t size;
  uint32_t sector;
  uint32_t iv_unit;
  uint64_t iv_tweak;
  std::unique_ptr<luks::Cipher> cipher;
  std::string name;
  std::vector<uint8_t> buf;
};

// TSK casts the TSK_IMG_INFO* back to this: `info` must stay the first member.
struct TskLuks {
  TSK_IMG_INFO info;
  LuksDisk* disk;
};

ssize_t luks_read(TSK_IMG_INFO* img, TSK_OFF_T off, char* out, size_t len) {
  LuksDisk* d = reinterpret_cast<TskLuks*>(img)->disk;
  std::string why = "beyond the end of the volume";
  if (off >= 0 && static_cast<uint64_t>(off) < d->size) {
    try {
      len = static_cast<size_t>(std::min<uint64_t>(len, d->size - static_cast<uint64_t>(off)));
      const uint64_t first = static_cast<uint64_t>(off) / d->sector;
      const uint64_t last = (static_cast<uint64_t>(off) + len + d->sector - 1) / d->sector;
      const size_t n = static_cast<size_t>((last - first) * d->sector);
      if (d->buf.size() < n) d->buf.resize(n);
      const uint64_t at = first * d->sector;
      const size_t got = d->image->read(d->data_start + at,
                                        std::span(reinterpret_cast<std::byte*>(d->buf.data()), n));
      if (got == n && d->cipher->decrypt(d->buf.data(), n, d->sector, d->iv_tweak + at / d->iv_unit,
                                         d->iv_unit)) {
        std::copy_n(d->buf.data() + (static_cast<uint64_t>(off) - at), len, out);
        return static_cast<ssize_t>(len);
      }
      why = got == n ? "the sectors cannot be decrypted" : "the image ends inside the volume";
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  return safehold::fs::detail::tsk_read_failed(d->name, off, why);
}

void luks_close(TSK_IMG_INFO* img) {
  auto* t = reinterpret_cast<TskLuks*>(img);
  if (!t->disk->buf.empty()) OPENSSL_cleanse(t->disk->buf.data(), t->disk->buf.size());
  delete t->disk;
  std::free(t);
}

void luks_stat(TSK_IMG_INFO* img, FILE* f) {
  tsk_fprintf(f, "Decrypted LUKS volume, %" PRId64 " bytes\n", static_cast<int64_t>(img->size));
}

}  // namespace

namespace {

// Encrypted volumes recognised by their header but not read yet: listed as encrypted (with what
// would unlock them) so that they are never mistaken for empty space; their raw sectors are
// carved. FileVault 2 / CoreStorage: "CS" at byte 88 of the physical volume header, format
// version 1 (libfvde's signature check).
std::optional<Found> recognised_only(const uint8_t* b) {
  Found f;
  if (b[88] == 'C' && b[89] == 'S' && b[8] == 1 && b[9] == 0) {
    f.scheme = "FileVault 2 (CoreStorage)";
    f.unlock = "password or recovery key (not read by Safehold yet)";
  } else {
    return std::nullopt;
  }
  f.cipher = "not read";
  f.readable = false;
  return f;
}

}  // namespace

std::optional<Found> detect(const Image& image, uint64_t start, uint64_t length,
                            const std::string& name) {
  uint8_t head[512];
  if (length < sizeof head || !reader(image, start, length)(0, head, sizeof head))
    return std::nullopt;
  if (bde::is_bitlocker(head)) {
    const bde::Info i = bde::describe(reader(image, start, length), length);
    Found f;
    f.scheme = "BitLocker";
    f.cipher = i.cipher;
    f.identifier = i.identifier;
    f.unlock = i.unlock;
    f.readable = i.unreadable.empty();
    if (!f.readable) f.why_not = "libbde 20190102 cannot read its metadata (" + i.unreadable + ")";
    return f;
  }
  if (!luks::is_luks(head)) return recognised_only(head);
  const luks::Header h = luks::parse(reader(image, start, length), length, name);
  Found f;
  f.scheme = "LUKS" + std::to_string(h.version);
  f.cipher = luks::describe(h);
  f.identifier = h.uuid;
  f.unlock = "passphrase or key file";
  f.data_offset = h.payload_offset;
  f.data_size = h.payload_size;
  return f;
}

TSK_IMG_INFO* open(const Image& image, uint64_t start, uint64_t length, const VolumeKey& key,
                   const std::string& name) {
  const auto read = reader(image, start, length);
  uint8_t head[512];
  if (length >= sizeof head && read(0, head, sizeof head) && bde::is_bitlocker(head))
    return bde::open(read, length, key, name);
  if (length >= sizeof head && read(0, head, sizeof head) && !luks::is_luks(head))
    if (auto f = recognised_only(head))
      throw EvidenceError(name + ": is a " + f->scheme +
                          " volume, which Safehold cannot decrypt yet (give no key: its raw "
                          "sectors are then carved)");
  const luks::Header h = luks::parse(read, length, name);
  std::string pass = passphrase(key, name);
  auto mk = luks::unlock(h, read, pass, name);
  OPENSSL_cleanse(pass.data(), pass.size());
  if (!mk)
    throw EvidenceError(name + ": the key given by " + key.origin + " does not unlock this LUKS" +
                        std::to_string(h.version) + " volume (no key slot accepts it)");
  auto disk = std::make_unique<LuksDisk>();
  disk->image = &image;
  disk->data_start = start + h.payload_offset;
  disk->size = h.payload_size / h.sector_size * h.sector_size;
  disk->sector = h.sector_size;
  // IVs count 512-byte sectors whatever the encryption sector (cryptsetup does not set dm-crypt's
  // iv_large_sectors for LUKS2: checked on a 4096-byte-sector volume it encrypted), from iv_tweak.
  disk->iv_unit = 512;
  disk->iv_tweak = h.iv_tweak;
  disk->name = name;
  try {
    disk->cipher = std::make_unique<luks::Cipher>(h.encryption, *mk, name);
  } catch (...) {
    OPENSSL_cleanse(mk->data(), mk->size());
    throw;
  }
  OPENSSL_cleanse(mk->data(), mk->size());
  // Handed to TSK as 512-byte sectors whatever the encryption sector (reads need no alignment):
  // with 4096, TSK 4.11 opened the ext4 of a 4096-byte-sector LUKS2 volume but its directory
  // walk failed without an error message.
  return detail::open_callback_image<TskLuks>(disk, disk->size, 512,
                                              {luks_read, luks_close, luks_stat},
                                              name + ": the decrypted volume cannot be opened");
}

}  // namespace safehold::fs::crypt
