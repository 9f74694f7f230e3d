#include "fs/internal/bitlocker.hpp"

#include <libbde.h>
#include <libbfio.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "fs/error.hpp"
#include "fs/internal/tsk_image.hpp"

namespace safehold::fs::bde {
namespace {

// ---- a libbfio handle reading the volume through ReadFn ----

struct Io {
  ReadFn read;
  uint64_t size = 0, pos = 0;
  bool open = false;
};

int io_free(intptr_t** h, libbfio_error_t**) {
  delete reinterpret_cast<Io*>(*h);
  *h = nullptr;
  return 1;
}
int io_clone(intptr_t** dst, intptr_t* src, libbfio_error_t**) {
  *dst = reinterpret_cast<intptr_t*>(new Io(*reinterpret_cast<Io*>(src)));
  return 1;
}
int io_open(intptr_t* h, int, libbfio_error_t**) {
  reinterpret_cast<Io*>(h)->open = true;
  return 1;
}
int io_close(intptr_t* h, libbfio_error_t**) {
  reinterpret_cast<Io*>(h)->open = false;
  return 0;
}
ssize_t io_read(intptr_t* h, uint8_t* buf, size_t n, libbfio_error_t**) {
  Io* io = reinterpret_cast<Io*>(h);
  if (io->pos >= io->size) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, io->size - io->pos));
  if (!io->read(io->pos, buf, n)) return -1;
  io->pos += n;
  return static_cast<ssize_t>(n);
}
ssize_t io_write(intptr_t*, const uint8_t*, size_t, libbfio_error_t**) {
  return -1;  // evidence is never written
}
off64_t io_seek(intptr_t* h, off64_t off, int whence, libbfio_error_t**) {
  Io* io = reinterpret_cast<Io*>(h);
  const int64_t base = whence == SEEK_SET   ? 0
                       : whence == SEEK_CUR ? static_cast<int64_t>(io->pos)
                       : whence == SEEK_END ? static_cast<int64_t>(io->size)
                                            : -1;
  if (base < 0 || off < -base || off > INT64_MAX - base) return -1;
  io->pos = static_cast<uint64_t>(base + off);
  return static_cast<off64_t>(io->pos);
}
int io_exists(intptr_t*, libbfio_error_t**) {
  return 1;
}
int io_is_open(intptr_t* h, libbfio_error_t**) {
  return reinterpret_cast<Io*>(h)->open ? 1 : 0;
}
int io_size(intptr_t* h, size64_t* size, libbfio_error_t**) {
  *size = reinterpret_cast<Io*>(h)->size;
  return 1;
}

// libbde's first (innermost) message: the cause, not the chain of callers.
std::string take(libbde_error_t*& e) {
  if (!e) return "no reason given";
  char buf[4096] = {};
  libbde_error_backtrace_sprint(e, buf, sizeof buf);
  libbde_error_free(&e);
  std::string s(buf, std::strlen(buf));
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == '\n' || s.back() == '.' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "no reason given" : s;
}

// A libbde volume over a libbfio handle, freed (and closed) on every path.
struct Volume {
  libbfio_handle_t* io = nullptr;
  libbde_volume_t* v = nullptr;
  bool opened = false;

  Volume(const ReadFn& read, uint64_t size) {
    auto* state = new Io{read, size, 0, false};
    if (libbfio_handle_initialize(&io, reinterpret_cast<intptr_t*>(state), io_free, io_clone,
                                  io_open, io_close, io_read, io_write, io_seek, io_exists,
                                  io_is_open, io_size, LIBBFIO_FLAG_IO_HANDLE_MANAGED,
                                  nullptr) != 1) {
      delete state;
      throw std::bad_alloc();
    }
    if (libbde_volume_initialize(&v, nullptr) != 1) {
      libbfio_handle_free(&io, nullptr);
      throw std::bad_alloc();
    }
  }
  ~Volume() {
    if (opened) libbde_volume_close(v, nullptr);
    libbde_volume_free(&v, nullptr);
    libbfio_handle_free(&io, nullptr);
  }
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  // 1: opened and unlocked, 0: opened but locked, -1: libbde cannot read it (`why` set).
  int open(std::string* why) {
    libbde_error_t* e = nullptr;
    const int r = libbde_volume_open_file_io_handle(v, io, LIBBDE_OPEN_READ, &e);
    if (r < 0) {
      *why = take(e);
      return -1;
    }
    if (e) libbde_error_free(&e);
    opened = true;
    return r == 1 && libbde_volume_is_locked(v, nullptr) == 0 ? 1 : 0;
  }
};

std::string cipher_name(uint16_t m) {
  switch (m) {
    case LIBBDE_ENCRYPTION_METHOD_AES_128_CBC_DIFFUSER:
      return "AES-CBC 128-bit with Elephant diffuser";
    case LIBBDE_ENCRYPTION_METHOD_AES_256_CBC_DIFFUSER:
      return "AES-CBC 256-bit with Elephant diffuser";
    case LIBBDE_ENCRYPTION_METHOD_AES_128_CBC:
      return "AES-CBC 128-bit";
    case LIBBDE_ENCRYPTION_METHOD_AES_256_CBC:
      return "AES-CBC 256-bit";
    case LIBBDE_ENCRYPTION_METHOD_AES_128_XTS:
      return "AES-XTS 128-bit";
    case LIBBDE_ENCRYPTION_METHOD_AES_256_XTS:
      return "AES-XTS 256-bit";
    default: {
      char b[32];
      std::snprintf(b, sizeof b, "method 0x%04x", m);
      return b;
    }
  }
}

// A GUID as Windows writes it (the first three fields little-endian), lower case.
std::string guid(const uint8_t* g) {
  char b[40];
  std::snprintf(b, sizeof b, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
                g[13], g[14], g[15]);
  return b;
}

// The key protectors' kinds, in the volume's order, without repeats: "recovery password or
// password". TPM-only protectors cannot be used on an image and are named as such.
std::string protectors(libbde_volume_t* v) {
  int n = 0;
  if (libbde_volume_get_number_of_key_protectors(v, &n, nullptr) != 1 || n <= 0 || n > 64)
    return "recovery password, password or startup key";
  std::vector<std::string> kinds;
  for (int i = 0; i < n; ++i) {
    libbde_key_protector_t* kp = nullptr;
    uint16_t type = 0;
    if (libbde_volume_get_key_protector(v, i, &kp, nullptr) != 1 || !kp) continue;
    const int ok = libbde_key_protector_get_type(kp, &type, nullptr);
    libbde_key_protector_free(&kp, nullptr);
    if (ok != 1) continue;
    std::string k = type == LIBBDE_KEY_PROTECTION_TYPE_RECOVERY_PASSWORD ? "recovery password"
                    : type == LIBBDE_KEY_PROTECTION_TYPE_PASSWORD        ? "password"
                    : type == LIBBDE_KEY_PROTECTION_TYPE_STARTUP_KEY     ? "startup key"
                    : type == LIBBDE_KEY_PROTECTION_TYPE_CLEAR_KEY
                        ? "clear key (protection suspended)"
                    : type == LIBBDE_KEY_PROTECTION_TYPE_TPM ? "TPM (not usable on an image)"
                                                             : "TPM with PIN or startup key";
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  std::string out;
  for (size_t i = 0; i < kinds.size(); ++i)
    out += (i == 0 ? "" : i + 1 == kinds.size() ? " or " : ", ") + kinds[i];
  return out.empty() ? "recovery password, password or startup key" : out;
}

// Gives the key to libbde. Throws EvidenceError for a key of no use to BitLocker.
void set_key(libbde_volume_t* v, const VolumeKey& key, const std::string& name) {
  libbde_error_t* e = nullptr;
  const auto* s = reinterpret_cast<const uint8_t*>(key.secret.data());
  int r = -1;
  switch (key.kind) {
    case SecretKind::password:
      r = libbde_volume_set_utf8_password(v, s, key.secret.size(), &e);
      break;
    case SecretKind::recovery_password:
      r = libbde_volume_set_utf8_recovery_password(v, s, key.secret.size(), &e);
      break;
    case SecretKind::key_file:
      r = libbde_volume_read_startup_key(v, key.secret.c_str(), &e);
      break;
  }
  if (r != 1) {
    // libbde's reason is not quoted: it could echo what it was given.
    if (e) libbde_error_free(&e);
    throw EvidenceError(name + ": " + key.origin + " gives a " + to_string(key.kind) +
                        (key.kind == SecretKind::key_file
                             ? " that is not a BitLocker startup or recovery key file (.BEK)"
                             : " that BitLocker cannot use"));
  }
}

struct BdeDisk {
  std::unique_ptr<Volume> volume;
  std::string name;
};

struct TskBde {
  TSK_IMG_INFO info;  // first: TSK casts the TSK_IMG_INFO* back
  BdeDisk* disk;
};

ssize_t bde_read(TSK_IMG_INFO* img, TSK_OFF_T off, char* out, size_t len) {
  BdeDisk* d = reinterpret_cast<TskBde*>(img)->disk;
  std::string why = "beyond the end of the volume";
  if (off >= 0 && off < img->size) {
    len = static_cast<size_t>(std::min<uint64_t>(len, static_cast<uint64_t>(img->size - off)));
    libbde_error_t* e = nullptr;
    const ssize_t n = libbde_volume_read_buffer_at_offset(d->volume->v, out, len, off, &e);
    if (n == static_cast<ssize_t>(len)) return n;
    why = n < 0 ? take(e) : "the image ends inside the volume";
    if (e) libbde_error_free(&e);
  }
  return safehold::fs::detail::tsk_read_failed(d->name, off, why);
}

void bde_close(TSK_IMG_INFO* img) {
  auto* t = reinterpret_cast<TskBde*>(img);
  delete t->disk;
  std::free(t);
}

void bde_stat(TSK_IMG_INFO* img, FILE* f) {
  tsk_fprintf(f, "Decrypted BitLocker volume, %" PRId64 " bytes\n",
              static_cast<int64_t>(img->size));
}

}  // namespace

bool is_bitlocker(const uint8_t* b) {
  static const uint8_t to_go[16] = {0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
                                    0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01};
  return std::memcmp(b + 3, "-FVE-FS-", 8) == 0 ||
         (std::memcmp(b + 3, "MSWIN4.1", 8) == 0 && std::memcmp(b + 424, to_go, 16) == 0);
}

Info describe(const ReadFn& read, uint64_t size) {
  Info info;
  Volume vol(read, size);
  if (vol.open(&info.unreadable) < 0) {
    info.cipher = "not read";
    info.unlock = "recovery password, password or startup key";
    return info;
  }
  uint16_t method = 0;
  uint8_t g[16];
  info.cipher = libbde_volume_get_encryption_method(vol.v, &method, nullptr) == 1
                    ? cipher_name(method)
                    : "unknown cipher";
  if (libbde_volume_get_volume_identifier(vol.v, g, sizeof g, nullptr) == 1)
    info.identifier = guid(g);
  info.unlock = protectors(vol.v);
  return info;
}

TSK_IMG_INFO* open(const ReadFn& read, uint64_t size, const VolumeKey& key,
                   const std::string& name) {
  auto disk = std::make_unique<BdeDisk>();
  disk->volume = std::make_unique<Volume>(read, size);
  disk->name = name;
  set_key(disk->volume->v, key, name);
  std::string why;
  int r = disk->volume->open(&why);
  // A startup key whose identifier names no key protector of this volume: a wrong key.
  if (r < 0 && key.kind == SecretKind::key_file &&
      why.find("missing startup key volume master key") != std::string::npos)
    r = 0;
  if (r < 0)
    throw EvidenceError(name + ": libbde 20190102 cannot read this BitLocker volume (" + why + ")");
  if (r == 0)
    throw EvidenceError(name + ": the key given by " + key.origin +
                        " does not unlock this BitLocker volume (no key protector accepts it)");
  size64_t bytes = 0;
  if (libbde_volume_get_size(disk->volume->v, &bytes, nullptr) != 1 || bytes == 0 ||
      bytes > (uint64_t{1} << 60))
    throw EvidenceError(name + ": the decrypted BitLocker volume has no usable size");
  return detail::open_callback_image<TskBde>(disk, bytes, 512, {bde_read, bde_close, bde_stat},
                                             name + ": the decrypted volume cannot be opened");
}

}  // namespace safehold::fs::bde
