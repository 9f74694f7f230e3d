#include "chat/sqlite_format.hpp"

#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

namespace safehold::chat {

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint32_t le32(const uint8_t* p) {
  return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | p[0];
}

// SQLite's WAL checksum: two running 32-bit sums over 32-bit words taken two at a time.
void wal_checksum(bool big_endian, const uint8_t* p, size_t n, uint32_t& s1, uint32_t& s2) {
  for (size_t k = 0; k + 8 <= n; k += 8) {
    uint32_t a = big_endian ? be32(p + k) : le32(p + k);
    uint32_t b = big_endian ? be32(p + k + 4) : le32(p + k + 4);
    s1 += a + s2;
    s2 += b + s1;
  }
}

}  // namespace

std::optional<DbHeader> parse_header(std::string_view bytes) {
  if (bytes.size() < 100 || std::memcmp(bytes.data(), "SQLite format 3\0", 16) != 0)
    return std::nullopt;
  auto p = reinterpret_cast<const uint8_t*>(bytes.data());
  DbHeader h;
  uint32_t ps = (uint32_t{p[16]} << 8) | p[17];
  h.page_size = ps == 1 ? 65536 : ps;
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)))
    return std::nullopt;
  h.reserved = p[20];
  h.page_count = be32(p + 28);
  h.freelist_trunk = be32(p + 32);
  h.freelist_count = be32(p + 36);
  return h;
}

Wal read_wal(std::string_view bytes) {
  Wal wal;
  if (bytes.size() < 32) {
    wal.error = bytes.empty() ? "" : "WAL shorter than its header";
    return wal;
  }
  auto p = reinterpret_cast<const uint8_t*>(bytes.data());
  uint32_t magic = be32(p);
  if (magic != 0x377f0682 && magic != 0x377f0683) {
    wal.error = "WAL magic not found";
    return wal;
  }
  bool big = magic & 1;
  uint32_t ps = be32(p + 8);
  if (ps < 512 || ps > 65536 || (ps & (ps - 1))) {
    wal.error = "WAL page size invalid";
    return wal;
  }
  wal.page_size = ps;
  uint32_t salt1 = be32(p + 16), salt2 = be32(p + 20);
  uint32_t s1 = 0, s2 = 0;
  wal_checksum(big, p, 24, s1, s2);
  if (s1 != be32(p + 24) || s2 != be32(p + 28)) {
    wal.error = "WAL header checksum mismatch";
    return wal;
  }
  bool chain_ok = true;
  size_t last_commit = 0;  // frames [0, last_commit) are applied
  for (uint64_t off = 32; off + 24 + ps <= bytes.size(); off += 24 + ps) {
    WalFrame f;
    const uint8_t* h = p + off;
    f.pgno = be32(h);
    f.commit_size = be32(h + 4);
    f.data_offset = off + 24;
    if (chain_ok && be32(h + 8) == salt1 && be32(h + 12) == salt2 && f.pgno != 0) {
      uint32_t c1 = s1, c2 = s2;
      wal_checksum(big, h, 8, c1, c2);
      wal_checksum(big, h + 24, ps, c1, c2);
      if (c1 == be32(h + 16) && c2 == be32(h + 20)) {
        f.valid = true;
        s1 = c1;
        s2 = c2;
      }
    }
    if (!f.valid) chain_ok = false;  // SQLite stops at the first invalid frame
    wal.frames.push_back(f);
    if (f.valid && f.commit_size) {
      last_commit = wal.frames.size();
      wal.db_pages = f.commit_size;
    }
  }
  std::map<uint32_t, size_t> latest;
  for (size_t k = 0; k < last_commit; ++k) {
    wal.frames[k].applied = true;
    auto [it, fresh] = latest.emplace(wal.frames[k].pgno, k);
    if (!fresh) {
      wal.frames[it->second].superseded = true;
      it->second = k;
    }
  }
  return wal;
}

std::string read_file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::string s;
  in.seekg(0, std::ios::end);
  auto n = in.tellg();
  in.seekg(0);
  if (n > 0) {
    s.resize(static_cast<size_t>(n));
    in.read(s.data(), n);
    s.resize(static_cast<size_t>(in.gcount()));
  }
  return s;
}

size_t apply_wal(const std::filesystem::path& db, const std::string& wal_bytes, const Wal& wal,
                 const std::filesystem::path& out) {
  std::filesystem::copy_file(db, out, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(
      out, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::fstream f(out, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw std::runtime_error("cannot write the private copy " + out.string());
  size_t applied = 0;
  for (const auto& fr : wal.frames) {
    if (!fr.applied) continue;
    f.seekp(static_cast<std::streamoff>(uint64_t{fr.pgno - 1} * wal.page_size));
    f.write(wal_bytes.data() + fr.data_offset, wal.page_size);
    ++applied;
  }
  f.close();
  if (!f) throw std::runtime_error("write failed on " + out.string());
  if (wal.db_pages) std::filesystem::resize_file(out, uint64_t{wal.db_pages} * wal.page_size);
  return applied;
}

size_t read_varint(const uint8_t* p, const uint8_t* end, uint64_t& out) {
  uint64_t v = 0;
  for (size_t k = 0; k < 9; ++k) {
    if (p + k >= end) return 0;
    if (k == 8) {
      out = (v << 8) | p[k];
      return 9;
    }
    v = (v << 7) | (p[k] & 0x7f);
    if (!(p[k] & 0x80)) {
      out = v;
      return k + 1;
    }
  }
  return 0;
}

int64_t serial_size(uint64_t t) {
  static const int64_t fixed[] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1};
  if (t < 12) return fixed[t];
  return static_cast<int64_t>((t - 12) / 2);
}

Value decode_value(uint64_t t, const uint8_t* p) {
  Value v;
  switch (t) {
    case 0:
      return v;
    case 8:
    case 9:
      v.type = Value::Type::Int;
      v.i = t == 8 ? 0 : 1;
      return v;
    case 7: {
      uint64_t bits = 0;
      for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];
      v.type = Value::Type::Real;
      std::memcpy(&v.d, &bits, 8);
      return v;
    }
    default:
      break;
  }
  if (t >= 1 && t <= 6) {
    int n = static_cast<int>(serial_size(t));
    uint64_t u = (p[0] & 0x80) ? ~uint64_t{0} : 0;  // sign extension
    for (int k = 0; k < n; ++k) u = (u << 8) | p[k];
    v.type = Value::Type::Int;
    v.i = static_cast<int64_t>(u);
    return v;
  }
  if (t >= 12) {
    v.type = (t & 1) ? Value::Type::Text : Value::Type::Blob;
    v.s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(serial_size(t)));
  }
  return v;
}

}  // namespace safehold::chat
