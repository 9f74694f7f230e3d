#include "fs/internal/archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace safehold::fs::archive {

FileBytes::FileBytes(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw EvidenceError(path + ": cannot be opened for reading: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw EvidenceError(path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

FileBytes::~FileBytes() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FileBytes::read(uint64_t off, void* buf, size_t n) const {
  size_t done = 0;
  while (done < n && off + done < size_) {
    ssize_t r =
        ::pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      throw EvidenceError(path_ + ": cannot read at byte offset " + std::to_string(off + done) +
                          ": " + std::strerror(errno));
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

size_t MemoryBytes::read(uint64_t off, void* buf, size_t n) const {
  if (off >= b_.size()) return 0;
  const size_t k = static_cast<size_t>(std::min<uint64_t>(n, b_.size() - off));
  std::memcpy(buf, b_.data() + off, k);
  return k;
}

struct InflatedBytes::State {
  std::mutex m;
  z_stream z{};
  bool live = false;
  uint64_t out = 0, in = 0;  // bytes produced, compressed bytes fed
  std::vector<Bytef> ib = std::vector<Bytef>(256 << 10), scratch = std::vector<Bytef>(1 << 20);
  ~State() {
    if (live) inflateEnd(&z);
  }
  void restart() {
    if (live) inflateEnd(&z);
    z = z_stream{};
    live = inflateInit(&z) == Z_OK;
    if (!live) throw EvidenceError("zlib cannot be initialised");
    out = in = 0;
  }
  // Inflates up to n bytes into dst; returns bytes produced (0 at the end); rc receives zlib's
  // last result.
  size_t step(const Bytes& src, uint64_t start, Bytef* dst, size_t n, int& rc) {
    z.next_out = dst;
    z.avail_out = static_cast<uInt>(n);
    rc = Z_OK;
    while (z.avail_out > 0) {
      if (z.avail_in == 0) {
        const size_t got = src.read(start + in, ib.data(), ib.size());
        if (got == 0) {
          rc = Z_BUF_ERROR;
          break;
        }
        in += got;
        z.next_in = ib.data();
        z.avail_in = static_cast<uInt>(got);
      }
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK) break;
    }
    const size_t made = n - z.avail_out;
    out += made;
    return made;
  }
};

InflatedBytes::InflatedBytes(const Bytes& in, uint64_t start)
    : in_(in), start_(start), st_(std::make_unique<State>()) {
  st_->restart();
  int rc = Z_OK;
  while (st_->step(in_, start_, st_->scratch.data(), st_->scratch.size(), rc) > 0 && rc == Z_OK) {
  }
  size_ = st_->out;
  if (rc != Z_STREAM_END) {
    damage_at_ = start_ + st_->in;
    damage_ =
        rc == Z_BUF_ERROR
            ? "the compressed data is cut off after " + std::to_string(size_) + " bytes of content"
            : "the compressed data is damaged after " + std::to_string(size_) + " bytes of content";
  }
  st_->restart();
}

InflatedBytes::~InflatedBytes() = default;

size_t InflatedBytes::read(uint64_t off, void* buf, size_t n) const {
  if (off >= size_ || n == 0) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - off));
  std::lock_guard<std::mutex> g(st_->m);
  if (off < st_->out) st_->restart();
  int rc = Z_OK;
  while (st_->out < off) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(st_->scratch.size(), off - st_->out));
    if (st_->step(in_, start_, st_->scratch.data(), want, rc) == 0) return 0;
  }
  size_t done = 0;
  while (done < n) {
    const size_t got = st_->step(in_, start_, static_cast<Bytef*>(buf) + done, n - done, rc);
    if (got == 0) break;
    done += got;
  }
  return done;
}

namespace {

uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | p[1] << 8);
}
uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t le64(const uint8_t* p) {
  return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32;
}

// ---- ZIP ----

constexpr uint64_t kMaxCentralDirectory = 512ull << 20;

struct Eocd {
  uint64_t entries = 0, cd_size = 0, cd_offset = 0, at = 0;
};

// The end of central directory record: the last "PK\5\6" in the final 64 KiB + 22 bytes whose
// comment length reaches the end of the file (else the last one found).
std::optional<Eocd> find_eocd(const Bytes& in, std::string& disk_error) {
  const uint64_t size = in.size();
  if (size < 22) return std::nullopt;
  const uint64_t from = size > 65557 ? size - 65557 : 0;
  std::vector<uint8_t> tail(static_cast<size_t>(size - from));
  if (!read_exact(in, from, tail.data(), tail.size())) return std::nullopt;
  std::optional<size_t> pick;
  for (size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (std::memcmp(&tail[i], "PK\5\6", 4) != 0) continue;
    if (!pick) pick = i;
    if (i + 22 + le16(&tail[i + 20]) == tail.size()) {
      pick = i;
      break;
    }
  }
  if (!pick) return std::nullopt;
  const uint8_t* e = &tail[*pick];
  Eocd r;
  r.at = from + *pick;
  r.entries = le16(e + 10);
  r.cd_size = le32(e + 12);
  r.cd_offset = le32(e + 16);
  if (le16(e + 4) != 0 || le16(e + 6) != 0)
    disk_error = "is split across disks (disk " + std::to_string(le16(e + 4)) +
                 "), which Safehold cannot read";
  return r;
}

// zip64: the locator 20 bytes before the EOCD, then the zip64 end record it points to.
void apply_zip64(const Bytes& in, Eocd& e, const std::string& name) {
  if (e.at < 20) return;
  uint8_t loc[20];
  if (!read_exact(in, e.at - 20, loc, 20) || std::memcmp(loc, "PK\6\7", 4) != 0) return;
  const uint64_t at = le64(loc + 8);
  uint8_t z[56];
  if (!read_exact(in, at, z, 56) || std::memcmp(z, "PK\6\6", 4) != 0)
    throw EvidenceError(name + ": the zip64 end of central directory record (at byte " +
                        std::to_string(at) + ") is missing or damaged");
  if (le32(z + 16) != 0 || le32(loc + 16) > 1)
    throw EvidenceError(name + ": is split across disks, which Safehold cannot read");
  e.entries = le64(z + 32);
  e.cd_size = le64(z + 40);
  e.cd_offset = le64(z + 48);
  e.at = at;
}

std::optional<Timestamp> dos_time(uint16_t time, uint16_t date) {
  if (date == 0) return std::nullopt;
  std::tm t{};
  t.tm_year = 80 + (date >> 9);
  t.tm_mon = ((date >> 5) & 15) - 1;
  t.tm_mday = date & 31;
  t.tm_hour = time >> 11;
  t.tm_min = (time >> 5) & 63;
  t.tm_sec = (time & 31) * 2;
  if (t.tm_mon < 0 || t.tm_mon > 11 || t.tm_mday < 1) return std::nullopt;
  return Timestamp{static_cast<int64_t>(timegm(&t)), 0};
}

std::optional<Timestamp> filetime(uint64_t ft) {
  if (ft == 0) return std::nullopt;
  const int64_t secs = static_cast<int64_t>(ft / 10000000) - 11644473600LL;
  return Timestamp{secs, static_cast<uint32_t>((ft % 10000000) * 100)};
}

// The extra fields of one central directory entry: zip64 sizes, Unix times, owner, NTFS times.
void parse_extra(const uint8_t* x, size_t n, Member& m, bool need_usize, bool need_csize,
                 bool need_offset) {
  for (size_t i = 0; i + 4 <= n;) {
    const uint16_t id = le16(x + i), len = le16(x + i + 2);
    const uint8_t* d = x + i + 4;
    if (len > n - i - 4) break;
    if (id == 0x0001) {
      size_t k = 0;
      auto take = [&](bool need, uint64_t& v) {
        if (!need) return;
        if (k + 8 <= len) v = le64(d + k);
        k += 8;
      };
      take(need_usize, m.size);
      take(need_csize, m.stored);
      take(need_offset, m.offset);
    } else if (id == 0x5455 && len >= 5 && (d[0] & 1)) {
      m.mtime = Timestamp{static_cast<int32_t>(le32(d + 1)), 0};
    } else if (id == 0x7875 && len >= 3 && d[0] == 1) {
      const size_t us = d[1];
      if (us == 4 && 2 + us + 1 <= len) {
        m.uid = le32(d + 2);
        const size_t gs = d[2 + us];
        if (gs == 4 && 3 + us + gs <= len) m.gid = le32(d + 3 + us);
      }
    } else if (id == 0x000a && len >= 32) {
      for (size_t t = 4; t + 4 <= len;) {
        const uint16_t tag = le16(d + t), tl = le16(d + t + 2);
        if (tl > len - t - 4) break;
        if (tag == 1 && tl >= 24) {
          m.mtime = filetime(le64(d + t + 4));
          m.atime = filetime(le64(d + t + 12));
          m.crtime = filetime(le64(d + t + 20));
        }
        t += 4 + tl;
      }
    }
    i += 4 + len;
  }
}

void type_from_attributes(Member& m, uint16_t made_by, uint32_t external) {
  const uint32_t unix_mode = external >> 16;
  if ((made_by >> 8) == 3 && unix_mode != 0) {
    m.mode = unix_mode;
    switch (unix_mode & S_IFMT) {
      case S_IFDIR:
        m.type = "dir";
        return;
      case S_IFLNK:
        m.type = "link";
        return;
      case S_IFREG:
        m.type = "file";
        return;
      case 0:  // permission bits only (Python's zipfile writes these): the name says
        break;
      default:
        m.type = "other";
        return;
    }
  }
  m.type = (!m.name.empty() && m.name.back() == '/') || (external & 0x10) ? "dir" : "file";
}

// One central directory entry at cd[pos]; returns its length, or 0 when it is not one.
size_t parse_cd_entry(const std::vector<uint8_t>& cd, size_t pos, Member& m) {
  if (cd.size() - pos < 46 || std::memcmp(&cd[pos], "PK\1\2", 4) != 0) return 0;
  const uint8_t* e = &cd[pos];
  const size_t nlen = le16(e + 28), xlen = le16(e + 30), clen = le16(e + 32);
  if (cd.size() - pos - 46 < nlen + xlen + clen) return 0;
  const uint16_t flags = le16(e + 8);
  m.method = le16(e + 10);
  m.encrypted = (flags & 1) != 0;
  m.mtime = dos_time(le16(e + 12), le16(e + 14));
  m.crc = le32(e + 16);
  m.stored = le32(e + 20);
  m.size = le32(e + 24);
  m.offset = le32(e + 42);
  m.name.assign(reinterpret_cast<const char*>(e + 46), nlen);
  parse_extra(e + 46 + nlen, xlen, m, m.size == 0xFFFFFFFF, m.stored == 0xFFFFFFFF,
              m.offset == 0xFFFFFFFF);
  type_from_attributes(m, le16(e + 4), le32(e + 38));
  return 46 + nlen + xlen + clen;
}

std::optional<uint64_t> zip_data_offset(const Bytes& in, const Member& m, std::string& why) {
  uint8_t h[30];
  if (!read_exact(in, m.offset, h, 30) || std::memcmp(h, "PK\3\4", 4) != 0) {
    why = "its local header (at byte " + std::to_string(m.offset) + ") is missing or damaged";
    return std::nullopt;
  }
  const uint64_t data = m.offset + 30 + le16(h + 26) + le16(h + 28);
  if (data > in.size() || m.stored > in.size() - data) {
    why = "its data (" + std::to_string(m.stored) + " bytes at byte " + std::to_string(data) +
          ") runs past the end of the archive (" + std::to_string(in.size()) + " bytes): cut off";
    return std::nullopt;
  }
  return data;
}

// ---- ZIP without its central directory ----

struct InflateEnd {
  uint64_t compressed = 0, size = 0;
  uint32_t crc = 0;
};

// Inflates a deflate stream at `at` to find where it ends (a member written with a data
// descriptor records no sizes before its data).
std::optional<InflateEnd> inflate_to_end(const Bytes& in, uint64_t at) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return std::nullopt;
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  constexpr size_t kIn = 256 << 10, kOut = 1 << 20;
  std::unique_ptr<Bytef[]> ib(new Bytef[kIn]), ob(new Bytef[kOut]);
  uLong crc = crc32(0, nullptr, 0);
  uint64_t pos = at, produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      const size_t got = in.read(pos, ib.get(), kIn);
      if (got == 0) return std::nullopt;
      pos += got;
      z.next_in = ib.get();
      z.avail_in = static_cast<uInt>(got);
    }
    z.next_out = ob.get();
    z.avail_out = kOut;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) return std::nullopt;
    const size_t got = kOut - z.avail_out;
    crc = crc32(crc, ob.get(), static_cast<uInt>(got));
    produced += got;
  }
  return InflateEnd{z.total_in, produced, static_cast<uint32_t>(crc)};
}

// One local header at `at`: the member, and where the next header is (0 when it cannot be told).
std::optional<uint64_t> local_member(const Bytes& in, uint64_t at, Member& m) {
  uint8_t h[30];
  if (!read_exact(in, at, h, 30) || std::memcmp(h, "PK\3\4", 4) != 0) return std::nullopt;
  const uint16_t flags = le16(h + 6), nlen = le16(h + 26), xlen = le16(h + 28);
  m.method = le16(h + 8);
  m.encrypted = (flags & 1) != 0;
  m.mtime = dos_time(le16(h + 10), le16(h + 12));
  m.crc = le32(h + 14);
  m.stored = le32(h + 18);
  m.size = le32(h + 22);
  m.offset = at;
  std::vector<uint8_t> nx(nlen + size_t{xlen});
  if (!read_exact(in, at + 30, nx.data(), nx.size())) {
    m.damage = "its local header is cut off";
    return 0;
  }
  m.name.assign(reinterpret_cast<const char*>(nx.data()), nlen);
  // In a local header the zip64 field holds both sizes whenever it is present.
  parse_extra(nx.data() + nlen, xlen, m, m.size == 0xFFFFFFFF, m.stored == 0xFFFFFFFF, false);
  m.type = !m.name.empty() && m.name.back() == '/' ? "dir" : "file";
  const uint64_t data = at + 30 + nlen + xlen;
  if (flags & 8) {  // sizes and CRC follow the data, in a data descriptor
    if (m.method != 8) {
      m.damage =
          "its size is recorded only after its data, which cannot be found without the "
          "central directory";
      return 0;
    }
    auto e = inflate_to_end(in, data);
    if (!e) {
      m.damage = "its deflate stream is cut off or damaged";
      return 0;
    }
    m.stored = e->compressed, m.size = e->size, m.crc = e->crc;
    uint64_t next = data + m.stored;
    uint8_t sig[4];
    if (read_exact(in, next, sig, 4) && std::memcmp(sig, "PK\7\10", 4) == 0) next += 4;
    // CRC and two sizes: 32-bit (12 bytes) unless a header does not follow them, then zip64 (20).
    auto header_at = [&](uint64_t p) {
      uint8_t k[4];
      return read_exact(in, p, k, 4) &&
             (std::memcmp(k, "PK\3\4", 4) == 0 || std::memcmp(k, "PK\1\2", 4) == 0);
    };
    next += header_at(next + 12) || !header_at(next + 20) ? 12 : 20;
    return next;
  }
  if (data > in.size() || m.stored > in.size() - data) {
    m.damage = "its data (" + std::to_string(m.stored) + " bytes at byte " + std::to_string(data) +
               ") runs past the end of the archive (" + std::to_string(in.size()) +
               " bytes): cut off";
    return 0;
  }
  return data + m.stored;
}

// No end of central directory record: the members are found from their local headers, in order,
// up to the first that cannot be read (cut off); the loss is named.
Listing scan_local(const Bytes& in, const std::string& name) {
  Listing out;
  uint64_t at = 0;
  while (true) {
    Member m;
    auto next = local_member(in, at, m);
    if (!next) break;
    const bool stop = *next == 0;
    out.members.push_back(std::move(m));
    if (stop) break;
    at = *next;
  }
  if (out.members.empty())
    throw EvidenceError(name + ": ZIP archive without an end of central directory record " +
                        "(cut off or damaged: its members cannot be located)");
  std::string where = "at byte " + std::to_string(at);
  if (!out.members.back().damage.empty()) where = "inside " + member_named(out.members.back().name);
  out.problems.push_back({at, in.size() - std::min(in.size(), at),
                          "no end of central directory record: the archive is cut off or "
                          "damaged " +
                              where + "; " + std::to_string(out.members.size()) +
                              " members found from their local headers"});
  return out;
}

}  // namespace

Listing list_zip(const Bytes& in, const std::string& name) {
  std::string disk_error;
  auto eocd = find_eocd(in, disk_error);
  if (!eocd) return scan_local(in, name);
  if (!disk_error.empty()) throw EvidenceError(name + ": " + disk_error);
  apply_zip64(in, *eocd, name);
  if (eocd->cd_offset > eocd->at || eocd->cd_size > eocd->at - eocd->cd_offset)
    throw EvidenceError(name + ": the central directory (" + std::to_string(eocd->cd_size) +
                        " bytes at byte " + std::to_string(eocd->cd_offset) +
                        ") lies outside the archive: cut off or damaged");
  if (eocd->cd_size > kMaxCentralDirectory)
    throw EvidenceError(name + ": central directory of " + std::to_string(eocd->cd_size) +
                        " bytes is larger than Safehold reads (512 MiB)");
  std::vector<uint8_t> cd(static_cast<size_t>(eocd->cd_size));
  if (!read_exact(in, eocd->cd_offset, cd.data(), cd.size()))
    throw EvidenceError(name + ": the central directory cannot be read");
  Listing out;
  size_t pos = 0;
  while (pos < cd.size()) {
    Member m;
    const size_t n = parse_cd_entry(cd, pos, m);
    if (n == 0) {
      out.problems.push_back(
          {eocd->cd_offset + pos, cd.size() - pos,
           "the central directory is damaged at byte " + std::to_string(eocd->cd_offset + pos) +
               " (entry " + std::to_string(out.members.size() + 1) + "): later members are lost"});
      break;
    }
    out.members.push_back(std::move(m));
    pos += n;
  }
  if (out.problems.empty() && out.members.size() != eocd->entries &&
      (eocd->entries & 0xFFFF) != (out.members.size() & 0xFFFF))
    out.problems.push_back({eocd->cd_offset, eocd->cd_size,
                            "the central directory lists " + std::to_string(out.members.size()) +
                                " members but its end record says " +
                                std::to_string(eocd->entries)});
  // Link targets are the links' content (a few bytes each).
  for (auto& m : out.members) {
    if (m.type != "link" || m.size > 4096) continue;
    std::string t;
    if (!read_member(in, Kind::zip, m, [&](std::span<const std::byte> b) {
          t.append(reinterpret_cast<const char*>(b.data()), b.size());
          return true;
        }))
      m.target = t;
  }
  return out;
}

namespace {

std::optional<std::string> read_stored(const Bytes& in, uint64_t at, uint64_t len, bool check_crc,
                                       uint32_t crc_want, const Sink& sink, uint64_t* delivered) {
  constexpr size_t kBuf = 1 << 20;
  std::unique_ptr<char[]> buf(new char[kBuf]);
  uLong crc = crc32(0, nullptr, 0);
  for (uint64_t done = 0; done < len;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBuf, len - done));
    if (in.read(at + done, buf.get(), want) != want)
      return "its content ends early at byte " + std::to_string(done);
    if (check_crc) crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.get()), uInt(want));
    done += want;
    if (delivered) *delivered = done;
    if (!sink(std::span<const std::byte>(reinterpret_cast<const std::byte*>(buf.get()), want)))
      return std::nullopt;
  }
  if (check_crc && static_cast<uint32_t>(crc) != crc_want)
    return "its content does not match its CRC-32 (damaged)";
  return std::nullopt;
}

struct Inflater {
  z_stream z{};
  bool ok = false;
  Inflater() { ok = inflateInit2(&z, -MAX_WBITS) == Z_OK; }
  ~Inflater() {
    if (ok) inflateEnd(&z);
  }
};

std::optional<std::string> read_deflated(const Bytes& in, uint64_t at, const Member& m,
                                         const Sink& sink, uint64_t* delivered) {
  constexpr size_t kIn = 256 << 10, kOut = 1 << 20;
  Inflater inf;
  if (!inf.ok) return std::string("zlib cannot be initialised");
  std::unique_ptr<Bytef[]> ib(new Bytef[kIn]), ob(new Bytef[kOut]);
  uLong crc = crc32(0, nullptr, 0);
  uint64_t consumed = 0, produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (inf.z.avail_in == 0) {
      if (consumed >= m.stored) return "its compressed data ends before the deflate stream does";
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kIn, m.stored - consumed));
      if (in.read(at + consumed, ib.get(), want) != want)
        return "its compressed data ends early at byte " + std::to_string(consumed);
      consumed += want;
      inf.z.next_in = ib.get();
      inf.z.avail_in = static_cast<uInt>(want);
    }
    inf.z.next_out = ob.get();
    inf.z.avail_out = kOut;
    rc = inflate(&inf.z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END)
      return "its deflate stream is damaged after " + std::to_string(produced) +
             " bytes of content";
    const size_t got = kOut - inf.z.avail_out;
    if (got > m.size - produced)
      return "it inflates to more than its recorded size of " + std::to_string(m.size) + " bytes";
    crc = crc32(crc, ob.get(), static_cast<uInt>(got));
    produced += got;
    if (delivered) *delivered = produced;
    if (got && !sink(std::span<const std::byte>(reinterpret_cast<const std::byte*>(ob.get()), got)))
      return std::nullopt;
  }
  if (produced != m.size)
    return "it inflates to " + std::to_string(produced) + " bytes, not its recorded " +
           std::to_string(m.size);
  if (static_cast<uint32_t>(crc) != m.crc) return "its content does not match its CRC-32 (damaged)";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> read_member(const Bytes& in, Kind kind, const Member& m,
                                       const Sink& sink, uint64_t* delivered) {
  if (delivered) *delivered = 0;
  auto fail = [&](const std::string& why) { return member_named(m.name) + ": " + why; };
  if (kind == Kind::tar) {
    if (!m.damage.empty()) return fail(m.damage);
    if (auto why = read_stored(in, m.offset, m.size, false, 0, sink, delivered)) return fail(*why);
    return std::nullopt;
  }
  if (m.type == "dir") return std::nullopt;
  if (!m.damage.empty()) return fail(m.damage);
  if (m.encrypted) return fail("it is encrypted, which Safehold cannot read in a ZIP");
  std::string why;
  auto data = zip_data_offset(in, m, why);
  if (!data) return fail(why);
  std::optional<std::string> r;
  if (m.method == 0) {
    if (m.stored != m.size) return fail("stored, but its two recorded sizes differ");
    r = read_stored(in, *data, m.size, true, m.crc, sink, delivered);
  } else if (m.method == 8) {
    r = read_deflated(in, *data, m, sink, delivered);
  } else {
    return fail("it uses compression method " + std::to_string(m.method) +
                ", which Safehold cannot read (it reads stored and deflate)");
  }
  if (r) return fail(*r);
  return std::nullopt;
}

}  // namespace safehold::fs::archive
