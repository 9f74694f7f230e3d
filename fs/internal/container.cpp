#include "fs/internal/container.hpp"

#include <fcntl.h>
#include <libqcow.h>
#include <libvhdi.h>
#include <libvmdk.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "fs/error.hpp"
#include "fs/internal/tsk_image.hpp"

namespace safehold::fs::container {

namespace fsys = std::filesystem;

namespace {

constexpr int kMaxParents = 16;  // a longer chain is refused (and a loop ends here)

// ---- reading the file's own bytes (detection, the QCOW header) ----

class Fd {
 public:
  explicit Fd(const fsys::path& p) : fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  bool ok() const { return fd_ >= 0; }
  uint64_t size() const {
    off_t n = ::lseek(fd_, 0, SEEK_END);
    return n > 0 ? static_cast<uint64_t>(n) : 0;
  }
  // Exactly n bytes at off, or false.
  bool read(uint64_t off, void* buf, size_t n) const {
    size_t done = 0;
    while (done < n) {
      ssize_t r =
          ::pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(off + done));
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  }

 private:
  int fd_;
};

uint32_t be32(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
uint64_t be64(const unsigned char* p) {
  return uint64_t{be32(p)} << 32 | be32(p + 4);
}
uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

bool starts(const unsigned char* h, size_t n, const char* magic, size_t len) {
  return n >= len && std::memcmp(h, magic, len) == 0;
}

// Known formats Safehold does not read, by their first bytes.
const char* unsupported_head(const unsigned char* h, size_t n) {
  if (starts(h, n, "EVF2\r\n\x81\0", 8)) return "an EWF2 image (Ex01)";
  if (starts(h, n, "LEF2\r\n\x81\0", 8)) return "an EWF2 logical evidence file (Lx01)";
  if (starts(h, n, "AFF10\r\n", 7)) return "an AFF image";
  if (starts(h, n, "QED\0", 4)) return "a QEMU enhanced disk (QED)";
  if (starts(h, n, "WithoutFreeSpace", 16) || starts(h, n, "WithouFreSpacExt", 16))
    return "a Parallels disk image";
  if (n >= 0x44 && le32(h + 0x40) == 0xbeda107f) return "a VirtualBox disk image (VDI)";
  if (starts(h, n, "\x1f\x8b", 2)) return "a gzip-compressed file";
  if (starts(h, n,
             "\xfd"
             "7zXZ\0",
             6))
    return "an xz-compressed file";
  if (starts(h, n, "\x28\xb5\x2f\xfd", 4)) return "a zstd-compressed file";
  if (starts(h, n, "BZh", 3) && n > 3 && h[3] >= '1' && h[3] <= '9')
    return "a bzip2-compressed file";
  if (starts(h, n, "7z\xbc\xaf\x27\x1c", 6)) return "a 7-Zip archive";
  if (starts(h, n, "PK\x03\x04", 4)) return "a ZIP archive";
  if (n >= 262 && std::memcmp(h + 257, "ustar", 5) == 0) return "a TAR archive";
  return nullptr;
}

}  // namespace

Kind detect(const fsys::path& path, std::string* unsupported) {
  Fd fd(path);
  if (!fd.ok()) return Kind::none;
  const uint64_t size = fd.size();
  unsigned char h[512] = {};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(size, sizeof h));
  if (!fd.read(0, h, n)) return Kind::none;
  if (starts(h, n, "QFI\xfb", 4)) return Kind::qcow;
  if (starts(h, n, "vhdxfile", 8)) return Kind::vhdx;
  if (starts(h, n, "conectix", 8)) return Kind::vhd;
  if (starts(h, n, "KDMV", 4) || starts(h, n, "COWD", 4)) return Kind::vmdk;
  if (std::string_view(reinterpret_cast<const char*>(h), n).find("# Disk DescriptorFile") !=
      std::string_view::npos)
    return Kind::vmdk;
  unsigned char t[512] = {};
  if (size >= 1024 && fd.read(size - 512, t, sizeof t)) {
    if (starts(t, sizeof t, "conectix", 8)) return Kind::vhd;  // fixed VHD: a footer only
    if (starts(t, sizeof t, "koly", 4)) {
      *unsupported = "an Apple disk image (DMG)";
      return Kind::none;
    }
  }
  if (const char* u = unsupported_head(h, n)) *unsupported = u;
  return Kind::none;
}

std::optional<BackingFile> qcow_backing(std::span<const unsigned char> header, uint64_t file_size,
                                        const std::string& name) {
  if (header.size() < 20 || be32(header.data()) != 0x514649fb)
    throw EvidenceError(name + ": the QCOW header is cut short");
  const uint32_t version = be32(header.data() + 4);
  if (version < 1 || version > 3)
    throw EvidenceError(name + ": QCOW version " + std::to_string(version) + " is not known");
  const uint64_t off = be64(header.data() + 8);
  const uint32_t len = be32(header.data() + 16);
  if (off == 0 || len == 0) return std::nullopt;
  // qemu refuses backing file names over 1023 bytes.
  if (len > 1023 || off > file_size || len > file_size - off)
    throw EvidenceError(name + ": its QCOW header names a backing file of " + std::to_string(len) +
                        " bytes at byte " + std::to_string(off) + ", outside the file");
  return BackingFile{off, len};
}

namespace {

std::string range_text(uint64_t a, uint64_t n) {
  return "image bytes " + std::to_string(a) + "-" + std::to_string(a + n - 1);
}

// Appends a bad range, merged with the last one when adjacent and for the same reason.
void add_bad(std::vector<BadRange>& out, uint64_t off, uint64_t len, const std::string& why) {
  if (!out.empty() && out.back().offset + out.back().len == off && out.back().reason == why) {
    out.back().len += len;
    return;
  }
  out.push_back({off, len, why});
}

}  // namespace

std::vector<BadRange> qcow2_bad_ranges(const std::function<bool(uint64_t, void*, size_t)>& read,
                                       uint64_t file_size, const std::string& name) {
  unsigned char h[104] = {};
  if (!read(0, h, 72)) throw EvidenceError(name + ": the QCOW header is cut short");
  const uint32_t version = be32(h + 4);
  if (version < 2) return {};  // QCOW 1: no such check (libqcow reads cut files safely)
  const uint32_t cluster_bits = be32(h + 20);
  const uint64_t media = be64(h + 24);
  const uint32_t l1_size = be32(h + 36);
  const uint64_t l1_offset = be64(h + 40);
  if (cluster_bits < 9 || cluster_bits > 21)
    throw EvidenceError(name + ": its QCOW2 cluster size (2^" + std::to_string(cluster_bits) +
                        " bytes) is not one of 512 bytes to 2 MiB");
  if (version >= 3 && read(0, h, 104)) {
    const uint64_t incompatible = be64(h + 72);
    if (incompatible & ~uint64_t{3})  // beyond 'dirty' and 'corrupt'
      throw EvidenceError(name + ": uses QCOW2 features Safehold cannot read (incompatible " +
                          "feature bits " + std::to_string(incompatible) + ")");
  }
  const uint64_t cluster = uint64_t{1} << cluster_bits;
  const uint64_t per_l2 = cluster / 8;
  if (media > (uint64_t{1} << 60))
    throw EvidenceError(name + ": its QCOW2 header claims " + std::to_string(media) +
                        " bytes of media, more than Safehold accepts");
  const uint64_t l1_needed = (media + cluster * per_l2 - 1) / (cluster * per_l2);
  if (l1_size < l1_needed || l1_offset > file_size || uint64_t{l1_size} * 8 > file_size - l1_offset)
    throw EvidenceError(name + ": its QCOW2 L1 table (" + std::to_string(l1_size) +
                        " entries at byte " + std::to_string(l1_offset) +
                        ") does not fit the file or the media");
  std::vector<unsigned char> l1(static_cast<size_t>(l1_needed) * 8);
  if (!l1.empty() && !read(l1_offset, l1.data(), l1.size()))
    throw EvidenceError(name + ": its QCOW2 L1 table cannot be read");
  std::vector<BadRange> bad;
  std::vector<unsigned char> l2(static_cast<size_t>(cluster));
  const uint64_t mask = 0x00fffffffffffe00ULL;
  for (uint64_t i = 0; i < l1_needed; ++i) {
    const uint64_t span = cluster * per_l2;
    const uint64_t start = i * span, len = std::min(span, media - start);
    const uint64_t l2_off = be64(&l1[i * 8]) & mask;
    if (l2_off == 0) continue;  // nothing allocated here
    if (l2_off > file_size || cluster > file_size - l2_off || !read(l2_off, l2.data(), l2.size())) {
      add_bad(
          bad, start, len,
          "its QCOW2 L2 table at file byte " + std::to_string(l2_off) + " lies outside " + name);
      continue;
    }
    for (uint64_t j = 0; j < per_l2 && j * cluster < len; ++j) {
      const uint64_t e = be64(&l2[j * 8]);
      if (e & (uint64_t{1} << 62)) continue;  // compressed: libqcow checks those reads itself
      const uint64_t off = e & mask;
      if (off == 0) continue;
      if (off > file_size || cluster > file_size - off)
        add_bad(bad, start + j * cluster, std::min(cluster, len - j * cluster),
                "its clusters lie beyond the end of " + name + " (cut short?)");
    }
  }
  return bad;
}

namespace {

// Not a path separator, a NUL or a name that walks out of the folder.
std::string base_name(std::string recorded) {
  const size_t cut = recorded.find_last_of("/\\");
  if (cut != std::string::npos) recorded.erase(0, cut + 1);
  if (recorded.find('\0') != std::string::npos) recorded.erase(recorded.find('\0'));
  if (recorded == "." || recorded == "..") recorded.clear();
  return recorded;
}

std::string flatten(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The parent at `level` of the chain: given, or the recorded name beside `child`.
fsys::path find_parent(const fsys::path& child, const std::string& recorded, int level,
                       const std::vector<fsys::path>& given, const char* what) {
  if (level < static_cast<int>(given.size())) {
    std::error_code ec;
    if (!fsys::is_regular_file(given[level], ec))
      throw EvidenceError(given[level].string() + ": the parent given for " + child.string() +
                          " does not exist");
    return given[level];
  }
  const std::string base = base_name(recorded);
  if (base.empty())
    throw EvidenceError(child.string() + ": is " + what + " whose parent's name ('" +
                        flatten(recorded) + "') names no file; give it with --parent");
  fsys::path p = child.parent_path() / base;
  std::error_code ec;
  if (!fsys::is_regular_file(p, ec))
    throw EvidenceError(child.string() + ": is " + what + " whose parent " + base +
                        " is missing (looked for " + p.string() + "; give it with --parent)");
  return p;
}

// ---- one read interface over the three libraries ----

class Disk {
 public:
  virtual ~Disk() = default;
  // Like pread(2), or -1 with *why set.
  virtual ssize_t read(uint64_t off, char* buf, size_t len, std::string* why) = 0;
  uint64_t size = 0;
  uint32_t bytes_per_sector = 0;
  std::vector<fsys::path> files;
  std::string name;
  std::vector<BadRange> damage;  // sorted by offset
};

template <typename E, int (*Sprint)(E*, char*, size_t), void (*Free)(E**)>
class LibError {
 public:
  ~LibError() {
    if (e_) Free(&e_);
  }
  E** out() {
    if (e_) Free(&e_);
    return &e_;
  }
  std::string text() const {
    if (!e_) return "";
    char buf[1024] = {};
    Sprint(e_, buf, sizeof buf);
    return flatten(buf);
  }

 private:
  E* e_ = nullptr;
};

using QcowError = LibError<libqcow_error_t, libqcow_error_sprint, libqcow_error_free>;
using VhdiError = LibError<libvhdi_error_t, libvhdi_error_sprint, libvhdi_error_free>;
using VmdkError = LibError<libvmdk_error_t, libvmdk_error_sprint, libvmdk_error_free>;

void check_size(const fsys::path& p, uint64_t size, const char* what) {
  if (size == 0) throw EvidenceError(p.string() + ": the " + std::string(what) + " holds no data");
  if (size > (uint64_t{1} << 60))
    throw EvidenceError(p.string() + ": the " + std::string(what) + " claims " +
                        std::to_string(size) + " bytes of media, more than Safehold accepts");
}

// The files of a chain, closed and freed however the disk's construction ends.
template <typename T, typename E, int (*Close)(T*, E**), int (*Free)(T**, E**)>
struct Chain {
  std::vector<T*> v;
  Chain() = default;
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;
  ~Chain() {
    for (auto* f : v) {
      Close(f, nullptr);
      Free(&f, nullptr);
    }
  }
};

// ---- QCOW ----

class QcowDisk : public Disk {
 public:
  QcowDisk(const fsys::path& path, const std::vector<fsys::path>& parents) {
    name = path.string();
    fsys::path p = path;
    for (int level = 0;; ++level) {
      libqcow_file_t* f = open_one(p);
      chain_.v.push_back(f);
      files.push_back(p);
      check_clusters(p);
      std::string backing = backing_name(p);
      if (backing.empty()) break;
      if (level >= kMaxParents)
        throw EvidenceError(name + ": its chain of backing files is longer than " +
                            std::to_string(kMaxParents) + " (or loops)");
      p = find_parent(p, backing, level, parents, "a QCOW image");
    }
    // Each file reads what it does not hold from the next one.
    for (size_t i = 0; i + 1 < chain_.v.size(); ++i) {
      QcowError err;
      if (libqcow_file_set_parent_file(chain_.v[i], chain_.v[i + 1], err.out()) != 1)
        throw EvidenceError(files[i].string() + ": cannot use " + files[i + 1].string() +
                            " as its backing file (" + err.text() + ")");
    }
    size64_t media = 0;
    QcowError err;
    if (libqcow_file_get_media_size(chain_.v[0], &media, err.out()) != 1)
      throw EvidenceError(name + ": cannot read the QCOW media size (" + err.text() + ")");
    check_size(path, media, "QCOW image");
    size = media;
  }
  ssize_t read(uint64_t off, char* buf, size_t len, std::string* why) override {
    // Never into a range whose clusters lie outside their file (see Opened::damage).
    for (const auto& d : damage) {
      if (d.offset >= off + len) break;
      if (d.offset + d.len <= off) continue;
      if (d.offset > off) {
        len = static_cast<size_t>(d.offset - off);
        break;
      }
      *why = range_text(d.offset, d.len) + " cannot be read: " + d.reason;
      return -1;
    }
    // One cluster per call: libqcow 20201213 returned the backing file's data for a child's own
    // clusters when one read spanned several clusters (a 4 MiB read of a qemu-io-written child).
    size_t done = 0;
    while (done < len) {
      const uint64_t at = off + done;
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(len - done, cluster_ - at % cluster_));
      QcowError err;
      ssize_t got = libqcow_file_read_buffer_at_offset(chain_.v[0], buf + done, n,
                                                       static_cast<off64_t>(at), err.out());
      if (got <= 0) {
        if (done > 0) break;
        *why = err.text();
        return -1;
      }
      done += static_cast<size_t>(got);
      if (static_cast<size_t>(got) < n) break;
    }
    return static_cast<ssize_t>(done);
  }

 private:
  libqcow_file_t* open_one(const fsys::path& p) {
    QcowError err;
    libqcow_file_t* f = nullptr;
    if (libqcow_file_initialize(&f, err.out()) != 1) throw std::bad_alloc();
    if (libqcow_file_open(f, p.c_str(), LIBQCOW_OPEN_READ, err.out()) != 1) {
      std::string why = err.text();
      libqcow_file_free(&f, nullptr);
      throw EvidenceError(p.string() + ": cannot be read as a QCOW image (" + why + ")");
    }
    uint32_t method = 0;
    if (libqcow_file_get_encryption_method(f, &method, err.out()) == 1 &&
        method != LIBQCOW_ENCRYPTION_METHOD_NONE) {
      libqcow_file_close(f, nullptr);
      libqcow_file_free(&f, nullptr);
      throw EvidenceError(p.string() + ": is an encrypted QCOW image (" +
                          (method == LIBQCOW_ENCRYPTION_METHOD_LUKS ? "LUKS" : "AES-128-CBC") +
                          "), which Safehold cannot read");
    }
    return f;
  }
  // The ranges of this file of the chain whose clusters are outside it: unreadable whichever file
  // of the chain would hold them (a child's read falls through to its parent).
  void check_clusters(const fsys::path& p) {
    Fd fd(p);
    unsigned char h[36] = {};
    if (fd.read(0, h, sizeof h)) {  // the smallest cluster size of the chain
      const uint32_t bits = be32(h + 4) == 1 ? h[32] : be32(h + 20);
      if (bits >= 9 && bits <= 21) cluster_ = std::min<uint64_t>(cluster_, uint64_t{1} << bits);
    }
    auto more = qcow2_bad_ranges(
        [&](uint64_t off, void* b, size_t n) { return fd.read(off, b, n); }, fd.size(), p.string());
    damage.insert(damage.end(), more.begin(), more.end());
    std::sort(damage.begin(), damage.end(),
              [](const BadRange& a, const BadRange& b) { return a.offset < b.offset; });
  }
  static std::string backing_name(const fsys::path& p) {
    Fd fd(p);
    unsigned char h[20] = {};
    const uint64_t size = fd.size();
    if (!fd.ok() || !fd.read(0, h, sizeof h))
      throw EvidenceError(p.string() + ": the QCOW header cannot be read");
    auto b = qcow_backing(h, size, p.string());
    if (!b) return "";
    std::string s(b->size, '\0');
    if (!fd.read(b->offset, s.data(), s.size()))
      throw EvidenceError(p.string() + ": its backing file name cannot be read");
    return s;
  }
  Chain<libqcow_file_t, libqcow_error_t, libqcow_file_close, libqcow_file_free> chain_;
  uint64_t cluster_ = uint64_t{1} << 21;
};

// ---- VHD, VHDX ----

class VhdiDisk : public Disk {
 public:
  VhdiDisk(const fsys::path& path, const std::vector<fsys::path>& parents) {
    name = path.string();
    fsys::path p = path;
    for (int level = 0;; ++level) {
      libvhdi_file_t* f = open_one(p);
      chain_.v.push_back(f);
      files.push_back(p);
      uint32_t type = 0;
      VhdiError err;
      if (libvhdi_file_get_disk_type(f, &type, err.out()) != 1)
        throw EvidenceError(p.string() + ": its disk type cannot be read (" + err.text() + ")");
      if (type != LIBVHDI_DISK_TYPE_DIFFERENTIAL) break;
      if (level >= kMaxParents)
        throw EvidenceError(name + ": its chain of differencing parents is longer than " +
                            std::to_string(kMaxParents) + " (or loops)");
      fsys::path parent = find_parent(p, parent_name(f), level, parents, "a differencing disk");
      {
        Chain<libvhdi_file_t, libvhdi_error_t, libvhdi_file_close, libvhdi_file_free> probe;
        probe.v.push_back(open_one(parent));
        check_identifier(f, probe.v[0], p, parent);
      }
      p = parent;
    }
    for (size_t i = 0; i + 1 < chain_.v.size(); ++i) {
      VhdiError err;
      if (libvhdi_file_set_parent_file(chain_.v[i], chain_.v[i + 1], err.out()) != 1)
        throw EvidenceError(files[i].string() + ": cannot use " + files[i + 1].string() +
                            " as its parent (" + err.text() + ")");
    }
    size64_t media = 0;
    VhdiError err;
    if (libvhdi_file_get_media_size(chain_.v[0], &media, err.out()) != 1)
      throw EvidenceError(name + ": cannot read the media size (" + err.text() + ")");
    check_size(path, media, "virtual disk");
    size = media;
    uint32_t bps = 0;
    if (libvhdi_file_get_bytes_per_sector(chain_.v[0], &bps, err.out()) == 1 &&
        (bps == 512 || bps == 4096))
      bytes_per_sector = bps;
  }
  ssize_t read(uint64_t off, char* buf, size_t len, std::string* why) override {
    VhdiError err;
    ssize_t n = libvhdi_file_read_buffer_at_offset(chain_.v[0], buf, len, static_cast<off64_t>(off),
                                                   err.out());
    if (n < 0) *why = err.text();
    return n;
  }

 private:
  static libvhdi_file_t* open_one(const fsys::path& p) {
    VhdiError err;
    libvhdi_file_t* f = nullptr;
    if (libvhdi_file_initialize(&f, err.out()) != 1) throw std::bad_alloc();
    if (libvhdi_file_open(f, p.c_str(), LIBVHDI_OPEN_READ, err.out()) != 1) {
      std::string why = err.text();
      libvhdi_file_free(&f, nullptr);
      throw EvidenceError(p.string() + ": cannot be read as a VHD or VHDX image (" + why + ")");
    }
    return f;
  }
  static std::string parent_name(libvhdi_file_t* f) {
    uint8_t buf[1024] = {};
    VhdiError err;
    if (libvhdi_file_get_utf8_parent_filename(f, buf, sizeof buf, err.out()) != 1) return "";
    return std::string(reinterpret_cast<const char*>(buf),
                       strnlen(reinterpret_cast<char*>(buf), sizeof buf));
  }
  static void check_identifier(libvhdi_file_t* child, libvhdi_file_t* parent, const fsys::path& cp,
                               const fsys::path& pp) {
    uint8_t want[16] = {}, have[16] = {};
    VhdiError err;
    if (libvhdi_file_get_parent_identifier(child, want, sizeof want, err.out()) != 1 ||
        libvhdi_file_get_identifier(parent, have, sizeof have, err.out()) != 1)
      return;  // not recorded: nothing to compare
    if (std::memcmp(want, have, sizeof want) != 0)
      throw EvidenceError(cp.string() + ": " + pp.string() +
                          " is not its parent (the parent's identifier differs from the one "
                          "the differencing disk records)");
  }
  Chain<libvhdi_file_t, libvhdi_error_t, libvhdi_file_close, libvhdi_file_free> chain_;
};

// ---- VMDK ----

class VmdkDisk : public Disk {
 public:
  VmdkDisk(const fsys::path& path, const std::vector<fsys::path>& parents) {
    name = path.string();
    fsys::path p = path;
    for (int level = 0;; ++level) {
      libvmdk_handle_t* h = open_one(p);
      chain_.v.push_back(h);
      std::string parent = parent_name(h);
      if (parent.empty()) break;
      if (level >= kMaxParents)
        throw EvidenceError(name + ": its chain of parent disks is longer than " +
                            std::to_string(kMaxParents) + " (or loops)");
      p = find_parent(p, parent, level, parents, "a VMDK child disk");
    }
    for (size_t i = 0; i + 1 < chain_.v.size(); ++i) {
      VmdkError err;
      if (libvmdk_handle_set_parent_handle(chain_.v[i], chain_.v[i + 1], err.out()) != 1)
        throw EvidenceError(name + ": cannot use its parent disk (" + err.text() + ")");
    }
    size64_t media = 0;
    VmdkError err;
    if (libvmdk_handle_get_media_size(chain_.v[0], &media, err.out()) != 1)
      throw EvidenceError(name + ": cannot read the VMDK media size (" + err.text() + ")");
    check_size(path, media, "VMDK image");
    size = media;
  }
  ssize_t read(uint64_t off, char* buf, size_t len, std::string* why) override {
    VmdkError err;
    ssize_t n = libvmdk_handle_read_buffer_at_offset(chain_.v[0], buf, len,
                                                     static_cast<off64_t>(off), err.out());
    if (n < 0) *why = err.text();
    return n;
  }

 private:
  libvmdk_handle_t* open_one(const fsys::path& p) {
    VmdkError err;
    libvmdk_handle_t* h = nullptr;
    if (libvmdk_handle_initialize(&h, err.out()) != 1) throw std::bad_alloc();
    struct Guard {
      libvmdk_handle_t*& h;
      bool keep = false;
      ~Guard() {
        if (!keep) libvmdk_handle_free(&h, nullptr);
      }
    } guard{h};
    if (libvmdk_handle_open(h, p.c_str(), LIBVMDK_OPEN_READ, err.out()) != 1)
      throw EvidenceError(p.string() + ": cannot be read as a VMDK image (" + err.text() + ")");
    const fsys::path dir = p.parent_path().empty() ? fsys::path(".") : p.parent_path();
    check_extents(h, p);
    const std::string d = dir.string();
    if (libvmdk_handle_set_extent_data_files_path(h, d.c_str(), d.size(), err.out()) != 1 ||
        libvmdk_handle_open_extent_data_files(h, err.out()) != 1) {
      std::string why = err.text();
      libvmdk_handle_close(h, nullptr);
      throw EvidenceError(p.string() + ": its extent files cannot be opened (" + why + ")");
    }
    guard.keep = true;
    return h;
  }
  // Every extent file the descriptor names must be beside it: a missing one is named.
  void check_extents(libvmdk_handle_t* h, const fsys::path& p) {
    int n = 0;
    VmdkError err;
    if (libvmdk_handle_get_number_of_extents(h, &n, err.out()) != 1 || n <= 0) {
      libvmdk_handle_close(h, nullptr);
      throw EvidenceError(p.string() + ": its descriptor lists no extents");
    }
    if (std::find(files.begin(), files.end(), p) == files.end()) files.push_back(p);
    for (int i = 0; i < n; ++i) {
      libvmdk_extent_descriptor_t* e = nullptr;
      if (libvmdk_handle_get_extent_descriptor(h, i, &e, err.out()) != 1) continue;
      uint8_t buf[1024] = {};
      int type = 0;
      libvmdk_extent_descriptor_get_type(e, &type, nullptr);
      const int got = libvmdk_extent_descriptor_get_utf8_filename(e, buf, sizeof buf, nullptr);
      libvmdk_extent_descriptor_free(&e, nullptr);
      if (type == LIBVMDK_EXTENT_TYPE_ZERO || got != 1) continue;
      const std::string base = base_name(std::string(
          reinterpret_cast<char*>(buf), strnlen(reinterpret_cast<char*>(buf), sizeof buf)));
      const fsys::path extent = p.parent_path() / base;
      std::error_code ec;
      if (base.empty() || !fsys::is_regular_file(extent, ec)) {
        libvmdk_handle_close(h, nullptr);
        throw EvidenceError(p.string() + ": its extent file " + (base.empty() ? "?" : base) +
                            " is missing (looked for " + extent.string() + ")");
      }
      if (std::find(files.begin(), files.end(), extent) == files.end()) files.push_back(extent);
    }
  }
  static std::string parent_name(libvmdk_handle_t* h) {
    uint8_t buf[1024] = {};
    VmdkError err;
    if (libvmdk_handle_get_utf8_parent_filename(h, buf, sizeof buf, err.out()) != 1) return "";
    return std::string(reinterpret_cast<char*>(buf),
                       strnlen(reinterpret_cast<char*>(buf), sizeof buf));
  }
  Chain<libvmdk_handle_t, libvmdk_error_t, libvmdk_handle_close, libvmdk_handle_free> chain_;
};

// ---- the TSK callback image ----

// TSK casts the TSK_IMG_INFO* it is given back to this: `info` must stay the first member.
struct TskDisk {
  TSK_IMG_INFO info;
  Disk* disk;
};

ssize_t tsk_read(TSK_IMG_INFO* img, TSK_OFF_T off, char* buf, size_t len) {
  Disk* d = reinterpret_cast<TskDisk*>(img)->disk;
  std::string why;
  ssize_t n = -1;
  try {
    if (off >= 0 && static_cast<uint64_t>(off) < d->size) {
      len = static_cast<size_t>(std::min<uint64_t>(len, d->size - static_cast<uint64_t>(off)));
      n = d->read(static_cast<uint64_t>(off), buf, len, &why);
    } else {
      why = "beyond the end of the media";
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (n > 0 || (n == 0 && len == 0)) return n;
  return safehold::fs::detail::tsk_read_failed(d->name, off, why.empty() ? "no data" : why);
}

void tsk_close(TSK_IMG_INFO* img) {
  auto* t = reinterpret_cast<TskDisk*>(img);
  delete t->disk;
  std::free(t);
}

void tsk_stat(TSK_IMG_INFO* img, FILE* f) {
  tsk_fprintf(f, "Size of data in bytes:\t%" PRId64 "\n", static_cast<int64_t>(img->size));
}

}  // namespace

Opened open(const fsys::path& path, Kind kind, const std::vector<fsys::path>& parents,
            uint32_t sector_size) {
  std::unique_ptr<Disk> disk;
  switch (kind) {
    case Kind::qcow:
      disk = std::make_unique<QcowDisk>(path, parents);
      break;
    case Kind::vhd:
    case Kind::vhdx:
      disk = std::make_unique<VhdiDisk>(path, parents);
      break;
    case Kind::vmdk:
      disk = std::make_unique<VmdkDisk>(path, parents);
      break;
    case Kind::none:
      throw EvidenceError(path.string() + ": not a disk container");
  }
  Opened o;
  o.files = disk->files;
  o.damage = disk->damage;
  o.bytes_per_sector = disk->bytes_per_sector;
  const uint32_t sector =
      sector_size ? sector_size : (o.bytes_per_sector ? o.bytes_per_sector : 512);
  o.img = detail::open_callback_image<TskDisk>(disk, disk->size, sector,
                                               {tsk_read, tsk_close, tsk_stat},
                                               path.string() + ": cannot be read as an image");
  return o;
}

}  // namespace safehold::fs::container
