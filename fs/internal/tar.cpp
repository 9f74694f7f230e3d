// TAR archives (ustar, pax, GNU long names and base-256 numbers) listed as members: the TAR half
// of fs/internal/archive.hpp.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "fs/internal/archive.hpp"

namespace safehold::fs::archive {
namespace {

constexpr uint64_t kMaxLongName = 1u << 20;

// An octal field, or GNU's base-256 (high bit of the first byte set); nullopt when neither.
std::optional<uint64_t> tar_number(const uint8_t* f, size_t n) {
  if (f[0] & 0x80) {
    uint64_t v = f[0] & 0x7F;
    for (size_t i = 1; i < n; ++i) {
      if (v >> 56) return std::nullopt;
      v = v << 8 | f[i];
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && f[i] == ' ') ++i;
  bool any = false;
  for (; i < n && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v >> 60) return std::nullopt;
    v = v * 8 + (f[i] - '0');
    any = true;
  }
  for (; i < n; ++i)
    if (f[i] != ' ' && f[i] != 0) return std::nullopt;
  if (!any) return 0;
  return v;
}

std::string tar_string(const uint8_t* f, size_t n) {
  size_t k = 0;
  while (k < n && f[k]) ++k;
  return std::string(reinterpret_cast<const char*>(f), k);
}

bool tar_checksum_ok(const uint8_t* h) {
  auto stored = tar_number(h + 148, 8);
  if (!stored) return false;
  uint64_t u = 0;
  int64_t s = 0;
  for (int i = 0; i < 512; ++i) {
    const uint8_t b = (i >= 148 && i < 156) ? ' ' : h[i];
    u += b;
    s += static_cast<int8_t>(b);
  }
  return *stored == u || static_cast<int64_t>(*stored) == s;
}

std::optional<Timestamp> pax_time(const std::string& v) {
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long secs = std::strtoll(v.c_str(), &end, 10);
  if (errno || end == v.c_str()) return std::nullopt;
  uint32_t nanos = 0;
  if (*end == '.') {
    uint32_t scale = 100000000;
    for (const char* p = end + 1; *p >= '0' && *p <= '9' && scale; ++p, scale /= 10)
      nanos += static_cast<uint32_t>(*p - '0') * scale;
  }
  return Timestamp{secs, nanos};
}

// pax records "LEN key=value\n" into `out` (later keys replace earlier ones).
void parse_pax(const std::string& data, std::vector<std::pair<std::string, std::string>>& out) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t sp = data.find(' ', pos);
    if (sp == std::string::npos) return;
    uint64_t len = 0;
    for (size_t i = pos; i < sp; ++i) {
      if (data[i] < '0' || data[i] > '9' || len > data.size()) return;
      len = len * 10 + static_cast<uint64_t>(data[i] - '0');
    }
    if (len <= sp - pos + 1 || len > data.size() - pos) return;
    std::string rec = data.substr(sp + 1, pos + len - sp - 1);
    if (!rec.empty() && rec.back() == '\n') rec.pop_back();
    size_t eq = rec.find('=');
    if (eq != std::string::npos) out.emplace_back(rec.substr(0, eq), rec.substr(eq + 1));
    pos += len;
  }
}

void apply_pax(const std::vector<std::pair<std::string, std::string>>& kv, Member& m) {
  auto num = [](const std::string& v) -> std::optional<uint64_t> {
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    return std::stoull(v);
  };
  for (auto& [k, v] : kv) {
    if (k == "path")
      m.name = v;
    else if (k == "linkpath")
      m.target = v;
    else if (k == "size" && num(v))
      m.size = m.stored = *num(v);
    else if (k == "mtime")
      m.mtime = pax_time(v);
    else if (k == "atime")
      m.atime = pax_time(v);
    else if (k == "ctime")
      m.ctime = pax_time(v);
    else if (k == "uid" && num(v))
      m.uid = static_cast<uint32_t>(*num(v));
    else if (k == "gid" && num(v))
      m.gid = static_cast<uint32_t>(*num(v));
  }
}

const char* tar_type(char flag) {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
    case '1':
      return "file";
    case '2':
      return "link";
    case '5':
      return "dir";
    default:
      return "other";
  }
}

struct TarState {
  std::string long_name, long_link;
  std::vector<std::pair<std::string, std::string>> pax, global_pax;
  bool have_long_name = false, have_long_link = false;
};

// The content of a metadata member (pax header, GNU long name), at most kMaxLongName bytes.
std::optional<std::string> tar_meta(const Bytes& in, uint64_t at, uint64_t size) {
  if (size > kMaxLongName) return std::nullopt;
  std::string s(static_cast<size_t>(size), '\0');
  if (!read_exact(in, at, s.data(), s.size())) return std::nullopt;
  return s;
}

// Builds a member from a header and what preceded it (pax, GNU long names).
Member tar_member(const uint8_t* h, uint64_t at, uint64_t size, TarState& st) {
  Member m;
  std::string name = tar_string(h, 100);
  const bool ustar = std::memcmp(h + 257, "ustar", 5) == 0;
  if (ustar && std::memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {
    name = tar_string(h + 345, 155) + "/" + name;  // POSIX ustar prefix
  }
  m.name = name;
  m.target = tar_string(h + 157, 100);
  m.type = tar_type(static_cast<char>(h[156]));
  if (h[156] == '1') m.target = tar_string(h + 157, 100);
  m.size = m.stored = size;
  m.offset = at + 512;
  if (auto mode = tar_number(h + 100, 8)) {
    uint32_t type_bits = m.type == "dir" ? S_IFDIR : m.type == "link" ? S_IFLNK : S_IFREG;
    if (m.type == "other") type_bits = 0;
    m.mode = static_cast<uint32_t>(*mode & 07777) | type_bits;
  }
  if (auto v = tar_number(h + 108, 8)) m.uid = static_cast<uint32_t>(*v);
  if (auto v = tar_number(h + 116, 8)) m.gid = static_cast<uint32_t>(*v);
  if (auto v = tar_number(h + 136, 12)) m.mtime = Timestamp{static_cast<int64_t>(*v), 0};
  if (st.have_long_name) m.name = st.long_name;
  if (st.have_long_link) m.target = st.long_link;
  apply_pax(st.global_pax, m);
  apply_pax(st.pax, m);
  st.pax.clear();
  st.have_long_name = st.have_long_link = false;
  return m;
}

}  // namespace

Listing list_tar(const Bytes& in, const std::string& name) {
  Listing out;
  TarState st;
  uint64_t at = 0;
  uint8_t h[512];
  bool first = true;
  while (true) {
    if (at >= in.size()) {
      out.problems.push_back({in.size(), 0,
                              "the archive ends at byte " + std::to_string(in.size()) +
                                  " without its end-of-archive blocks (cut off?)"});
      break;
    }
    if (!read_exact(in, at, h, 512)) {
      out.problems.push_back(
          {at, in.size() - at, "the header at byte " + std::to_string(at) + " is cut off"});
      break;
    }
    if (std::all_of(h, h + 512, [](uint8_t b) { return b == 0; })) break;
    if (!tar_checksum_ok(h)) {
      if (first) throw EvidenceError(name + ": not a TAR archive (bad header checksum)");
      out.problems.push_back({at, in.size() - at,
                              "the header at byte " + std::to_string(at) +
                                  " has a bad checksum: later members are lost"});
      break;
    }
    first = false;
    auto size = tar_number(h + 124, 12);
    if (!size) {
      out.problems.push_back({at, in.size() - at,
                              "the header at byte " + std::to_string(at) +
                                  " has no valid size: later members are lost"});
      break;
    }
    const char flag = static_cast<char>(h[156]);
    if (flag == 'x' || flag == 'g' || flag == 'L' || flag == 'K') {
      auto data = tar_meta(in, at + 512, *size);
      if (!data) {
        out.problems.push_back({at, in.size() - at,
                                "the extended header at byte " + std::to_string(at) +
                                    " is cut off or too large: later members are lost"});
        break;
      }
      if (flag == 'x') parse_pax(*data, st.pax);
      if (flag == 'g') parse_pax(*data, st.global_pax);
      if (flag == 'L') st.long_name = data->substr(0, data->find('\0')), st.have_long_name = true;
      if (flag == 'K') st.long_link = data->substr(0, data->find('\0')), st.have_long_link = true;
    } else {
      Member m = tar_member(h, at, *size, st);
      if (flag == 'S') m.damage = "it is a GNU sparse member, which Safehold cannot read";
      if (flag == '1') {  // hard link: the content of the earlier member of that name
        auto it = std::find_if(out.members.rbegin(), out.members.rend(),
                               [&](const Member& p) { return p.name == m.target; });
        if (it != out.members.rend() && it->type == "file") {
          m.offset = it->offset, m.size = m.stored = it->size, m.damage = it->damage;
        } else {
          m.size = m.stored = 0;
        }
      }
      if (m.type != "file") m.size = m.stored = 0;
      if (m.damage.empty() && (m.offset > in.size() || m.stored > in.size() - m.offset))
        m.damage = "its content (" + std::to_string(m.stored) + " bytes at byte " +
                   std::to_string(m.offset) + ") runs past the end of the archive (" +
                   std::to_string(in.size()) + " bytes): cut off";
      out.members.push_back(std::move(m));
    }
    const uint64_t span = (*size + 511) / 512 * 512;
    if (span > in.size() - std::min(in.size(), at + 512)) {
      out.problems.push_back(
          {at, in.size() - at,
           "the archive is cut off inside " +
               member_named(out.members.empty() ? "" : out.members.back().name)});
      break;
    }
    at += 512 + span;
  }
  return out;
}

}  // namespace safehold::fs::archive
