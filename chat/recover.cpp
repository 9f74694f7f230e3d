#include "chat/recover.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>
#include <unordered_set>

namespace safehold::chat {

namespace {

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A database image: page n is bytes [(n-1)*page_size, n*page_size).
struct Image {
  std::string_view bytes;
  uint32_t page_size = 0;
  uint32_t usable = 0;
  uint32_t pages() const { return page_size ? static_cast<uint32_t>(bytes.size() / page_size) : 0; }
  std::string_view page(uint32_t n) const {
    if (n == 0 || n > pages()) return {};
    return bytes.substr(uint64_t{n - 1} * page_size, page_size);
  }
};

enum class Affinity { Integer, Text, Blob, Real, Numeric };

Affinity affinity(const std::string& t) {
  if (t.find("INT") != std::string::npos) return Affinity::Integer;
  if (t.find("CHAR") != std::string::npos || t.find("CLOB") != std::string::npos ||
      t.find("TEXT") != std::string::npos)
    return Affinity::Text;
  if (t.empty() || t.find("BLOB") != std::string::npos) return Affinity::Blob;
  if (t.find("REAL") != std::string::npos || t.find("FLOA") != std::string::npos ||
      t.find("DOUB") != std::string::npos)
    return Affinity::Real;
  return Affinity::Numeric;
}

struct Shape {
  std::vector<Affinity> aff;
  std::vector<bool> ipk;
  size_t min_cols = 0;  // rows written before ALTER TABLE ADD COLUMN have fewer values
  bool has_text = false;
};

bool type_ok(const Shape& s, size_t k, uint64_t t) {
  if (t == 10 || t == 11) return false;
  if (s.ipk[k]) return t == 0;
  switch (s.aff[k]) {
    case Affinity::Integer:
    case Affinity::Real:
      return t <= 9;
    case Affinity::Text:
      return t == 0 || t >= 12;
    default:
      return true;
  }
}

bool valid_text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
    if (!n || c < 0xC2 || i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

// Decodes values for serial `types` from body bytes [p, end); nullopt when they do not fit or a
// text is not text.
std::optional<std::vector<Value>> decode_body(const std::vector<uint64_t>& types, const uint8_t* p,
                                              const uint8_t* end) {
  std::vector<Value> out;
  out.reserve(types.size());
  for (uint64_t t : types) {
    int64_t n = serial_size(t);
    if (n < 0 || n > end - p) return std::nullopt;
    out.push_back(decode_value(t, p));
    if (out.back().type == Value::Type::Text && !valid_text(out.back().s)) return std::nullopt;
    p += n;
  }
  return out;
}

// Reads serial types from [q, hdr_end); nullopt unless they fit the shape.
std::optional<std::vector<uint64_t>> read_types(const Shape& s, const uint8_t* q,
                                                const uint8_t* hdr_end,
                                                std::vector<uint64_t> types = {}) {
  while (q < hdr_end) {
    uint64_t t;
    size_t n = read_varint(q, hdr_end, t);
    if (!n || types.size() >= s.aff.size()) return std::nullopt;
    if (!type_ok(s, types.size(), t)) return std::nullopt;
    types.push_back(t);
    q += n;
  }
  if (q != hdr_end || types.size() < s.min_cols) return std::nullopt;
  return types;
}

int64_t body_size(const std::vector<uint64_t>& types) {
  int64_t n = 0;
  for (auto t : types) n += serial_size(t);
  return n;
}

// A whole record (header length, types, body) in exactly `payload`.
std::optional<std::vector<Value>> decode_payload(const Shape& s, std::string_view payload) {
  auto p = reinterpret_cast<const uint8_t*>(payload.data());
  auto end = p + payload.size();
  uint64_t hdr_len;
  size_t n = read_varint(p, end, hdr_len);
  if (!n || hdr_len < n + 1 || hdr_len > payload.size()) return std::nullopt;
  auto types = read_types(s, p + n, p + hdr_len);
  if (!types ||
      static_cast<int64_t>(hdr_len) + body_size(*types) != static_cast<int64_t>(payload.size()))
    return std::nullopt;
  return decode_body(*types, p + hdr_len, end);
}

// The payload of a table-leaf cell at `off` of `page`, following overflow pages in `img`.
struct Cell {
  int64_t rowid = 0;
  std::string payload;
  size_t end = 0;  // offset after the cell's local part
};

std::optional<Cell> read_cell(const Image& img, std::string_view page, size_t off, size_t limit) {
  if (off >= page.size()) return std::nullopt;
  auto base = reinterpret_cast<const uint8_t*>(page.data());
  const uint8_t* lim = base + std::min(limit, page.size());
  const uint8_t* p = base + off;
  uint64_t plen, rowid;
  size_t a = read_varint(p, lim, plen);
  if (!a || plen < 2 || plen > (uint64_t{1} << 31)) return std::nullopt;
  size_t b = read_varint(p + a, lim, rowid);
  if (!b || static_cast<int64_t>(rowid) < 1) return std::nullopt;
  const uint8_t* pay = p + a + b;
  uint64_t U = img.usable, X = U - 35;
  Cell c;
  c.rowid = static_cast<int64_t>(rowid);
  if (plen <= X) {
    if (pay + plen > lim) return std::nullopt;
    c.payload.assign(reinterpret_cast<const char*>(pay), plen);
    c.end = static_cast<size_t>(pay + plen - base);
    return c;
  }
  uint64_t M = ((U - 12) * 32 / 255) - 23;
  uint64_t K = M + ((plen - M) % (U - 4));
  uint64_t local = K <= X ? K : M;
  if (pay + local + 4 > lim) return std::nullopt;
  c.payload.assign(reinterpret_cast<const char*>(pay), local);
  c.end = static_cast<size_t>(pay + local + 4 - base);
  uint32_t next = be32(pay + local);
  std::set<uint32_t> seen;
  while (c.payload.size() < plen) {
    if (!next || !seen.insert(next).second) return std::nullopt;
    std::string_view ov = img.page(next);
    if (ov.size() < 4) return std::nullopt;
    auto q = reinterpret_cast<const uint8_t*>(ov.data());
    next = be32(q);
    size_t take = std::min<uint64_t>(U - 4, plen - c.payload.size());
    c.payload.append(ov.substr(4, take));
  }
  return c;
}

struct Candidate {
  std::optional<int64_t> rowid;
  std::vector<Value> values;  // table columns
  std::string location;
  std::string from;        // freeblock, unallocated, journal, wal
  bool truncated = false;  // a live cell overwrote the record's tail
};

// Values of `types` from body bytes at p. Values wholly before `limit` (the first byte a live
// cell has since overwritten) decode; a text crossing it keeps its valid UTF-8 prefix and every
// later value is NULL (`truncated` set). nullopt when the record would not fit in the page
// (`page_end`) or a text is not text.
std::optional<std::vector<Value>> decode_body_partial(const std::vector<uint64_t>& types,
                                                      const uint8_t* p, const uint8_t* limit,
                                                      const uint8_t* page_end, bool& truncated) {
  truncated = false;
  if (limit < p) limit = p;
  if (body_size(types) > page_end - p) return std::nullopt;
  std::vector<Value> out;
  out.reserve(types.size());
  for (uint64_t t : types) {
    int64_t n = serial_size(t);
    if (n < 0) return std::nullopt;
    if (truncated) {
      out.emplace_back();
    } else if (n <= limit - p) {
      out.push_back(decode_value(t, p));
      if (out.back().type == Value::Type::Text && !valid_text(out.back().s)) return std::nullopt;
    } else {
      truncated = true;
      Value v;
      if (t >= 12 && (t & 1)) {
        v.type = Value::Type::Text;
        v.s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(limit - p));
        while (!v.s.empty() && !valid_text(v.s)) v.s.pop_back();  // a cut multi-byte character
        if (v.s.size() + 3 < static_cast<size_t>(limit - p)) return std::nullopt;
      }
      out.push_back(std::move(v));
    }
    p += n;
  }
  return out;
}

class Scanner {
 public:
  Scanner(const Image& img, const Shape& s, std::vector<Candidate>& out)
      : img_(img), shape_(s), out_(out) {}

  // A table leaf page: live cells (when the page is dead), freeblocks and the unallocated gap.
  // `from` names the source for every record found (nullptr: freeblock or unallocated, by
  // where in the page the record is).
  void scan_leaf(std::string_view page, uint32_t pgno, bool dead, const std::string& where,
                 const char* from = nullptr) {
    from_ = from;
    live_.clear();
    size_t hb = pgno == 1 ? 100 : 0;
    auto p = reinterpret_cast<const uint8_t*>(page.data());
    if (page.size() < hb + 8 || p[hb] != 0x0d) {
      scan_cells(page, hb, page.size(), where, "unallocated");
      return;
    }
    size_t ncells = be16(p + hb + 3);
    size_t content = be16(p + hb + 5);
    if (content == 0) content = 65536;
    size_t ptr_end = hb + 8 + 2 * ncells;
    if (ptr_end > page.size()) return;
    for (size_t k = 0; k < ncells; ++k) {
      size_t off = be16(p + hb + 8 + 2 * k);
      if (off < ptr_end || off >= img_.usable) continue;
      auto c = read_cell(img_, page, off, img_.usable);
      live_.emplace_back(off, c ? c->end : off + 4);
      if (!dead || !c) continue;
      if (auto v = decode_payload(shape_, c->payload); v && interesting(*v))
        out_.push_back({c->rowid, std::move(*v), where + " cell +" + std::to_string(off),
                        from_ ? from_ : "unallocated"});
    }
    std::sort(live_.begin(), live_.end());
    std::set<size_t> seen;
    for (size_t fb = be16(p + hb + 1); fb && fb + 4 <= img_.usable && seen.insert(fb).second;) {
      size_t size = be16(p + fb + 2);
      if (size < 4 || fb + size > img_.usable) break;
      scan_freeblock(page, fb, size, where + " freeblock");
      size_t next = be16(p + fb);
      if (next && next <= fb) break;
      fb = next;
    }
    if (content > ptr_end && content <= page.size())
      scan_cells(page, ptr_end, std::min<size_t>(content, img_.usable), where + " unallocated",
                 "unallocated", true);
  }

 private:
  const Image& img_;
  const Shape& shape_;
  std::vector<Candidate>& out_;
  const char* from_ = nullptr;
  std::vector<std::pair<size_t, size_t>> live_;  // sorted [begin, end) of the page's live cells

  // The first byte at or after o that a live cell of the page holds (the page's end if none).
  size_t next_live(size_t o) const {
    // Cells do not overlap: sorted by start, they are sorted by end too.
    auto it =
        std::partition_point(live_.begin(), live_.end(), [o](auto& c) { return c.second <= o; });
    return it == live_.end() ? img_.usable : std::max(it->first, o);
  }

  void add(std::optional<int64_t> rowid, std::vector<Value> v, std::string location,
           const char* region, bool truncated = false) {
    out_.push_back({rowid, std::move(v), std::move(location), from_ ? from_ : region, truncated});
  }

  // Intact cells anywhere in [a, b): payload length, rowid, record of exactly that length; or a
  // cell whose header is intact but whose tail a live cell overwrote. With `old_freeblocks`,
  // also former freeblocks (a freeblock at the start of the content area is merged into the
  // unallocated gap, header and all).
  void scan_cells(std::string_view page, size_t a, size_t b, const std::string& where,
                  const char* region, bool old_freeblocks = false) {
    auto p = reinterpret_cast<const uint8_t*>(page.data());
    for (size_t o = a; o + 3 < b;) {
      auto c = read_cell(img_, page, o, b);
      if (c)
        if (auto v = decode_payload(shape_, c->payload); v && interesting(*v)) {
          add(c->rowid, std::move(*v), where + " +" + std::to_string(o), region);
          o = c->end;
          continue;
        }
      if (size_t end = overwritten_cell(page, o, where, region)) {
        o = end;
        continue;
      }
      if (old_freeblocks) {
        size_t next = be16(p + o), size = be16(p + o + 2);
        if (size >= 8 && o + size <= img_.usable && (next == 0 || next > o))
          if (size_t end = freeblock_head(page, o, size, where + " (old freeblock)", region)) {
            o = end;
            continue;
          }
      }
      ++o;
    }
  }

  // A cell at o whose payload length, rowid and record header are intact (and agree with each
  // other) but whose body runs into a live cell. Returns the offset after its free part.
  size_t overwritten_cell(std::string_view page, size_t o, const std::string& where,
                          const char* region) {
    auto base = reinterpret_cast<const uint8_t*>(page.data());
    size_t limit = next_live(o);
    if (limit >= img_.usable || limit <= o) return 0;  // nothing overwritten here
    const uint8_t *p = base + o, *lim = base + limit;
    uint64_t plen, rowid, hdr_len;
    size_t a = read_varint(p, lim, plen);
    if (!a || plen < 2 || plen > img_.usable - 35) return 0;
    size_t b = read_varint(p + a, lim, rowid);
    if (!b || static_cast<int64_t>(rowid) < 1) return 0;
    const uint8_t* rec = p + a + b;
    size_t n = read_varint(rec, lim, hdr_len);
    if (!n || hdr_len < n + 1 || rec + hdr_len > lim) return 0;
    auto types = read_types(shape_, rec + n, rec + hdr_len);
    if (!types || static_cast<int64_t>(hdr_len) + body_size(*types) != static_cast<int64_t>(plen))
      return 0;
    const uint8_t* page_end = base + img_.usable;
    if (rec + plen > page_end || rec + plen <= lim) return 0;
    bool truncated = false;
    auto v = decode_body_partial(*types, rec + hdr_len, lim, page_end, truncated);
    if (!v || !interesting(*v)) return 0;
    add(static_cast<int64_t>(rowid), std::move(*v),
        where + " +" + std::to_string(o) + " (tail overwritten)", region, truncated);
    return limit;
  }

  // A freeblock: its first 4 bytes (the cell's payload length, rowid and perhaps the header
  // length and first serial types) are overwritten by the freeblock header.
  void scan_freeblock(std::string_view page, size_t f, size_t size, const std::string& where) {
    size_t best_end = freeblock_head(page, f, size, where, "freeblock");
    // Neighbouring deleted cells merged into the same freeblock keep their headers.
    size_t from = best_end ? best_end : f + 4;
    if (from < f + size) scan_cells(page, from, f + size, where, "freeblock");
  }

  // The record at the start of a freeblock; returns the offset after it (or after its free
  // part when a live cell overwrote its tail), 0 when none. Whole records are tried first.
  size_t freeblock_head(std::string_view page, size_t f, size_t size, const std::string& where,
                        const char* region) {
    for (bool allow_cut : {false, true})
      for (size_t h = f + 2; h <= f + 5; ++h)
        if (size_t end = freeblock_record(page, f, size, h, allow_cut, where, region)) return end;
    return 0;
  }

  // h: where the record header length byte was; cells start with >= 2 bytes of varints.
  size_t freeblock_record(std::string_view page, size_t f, size_t size, size_t h, bool allow_cut,
                          const std::string& where, const char* region) {
    auto base = reinterpret_cast<const uint8_t*>(page.data());
    (void)size;  // a live cell may since have taken the freeblock's tail: the page decides
    size_t free_end = next_live(f);
    if (free_end < f + 4) return 0;  // a live cell overlaps the freeblock: a corrupt page
    const uint8_t* end = base + free_end;
    std::optional<std::vector<uint64_t>> types;
    const uint8_t* body = nullptr;
    if (h >= f + 4) {
      uint64_t hdr_len;
      size_t n = read_varint(base + h, end, hdr_len);
      if (!n || hdr_len < n + 1 || base + h + hdr_len > end) return 0;
      types = read_types(shape_, base + h + n, base + h + hdr_len);
      body = base + h + hdr_len;
    } else {
      // Lost: the header length byte and (f+3-h) leading serial types, guessed as the
      // INTEGER PRIMARY KEY's NULL (1 byte each).
      size_t lost = f + 3 - h;
      if (lost > shape_.ipk.size()) return 0;
      std::vector<uint64_t> t;
      for (size_t k = 0; k < lost; ++k) {
        if (!shape_.ipk[k]) return 0;
        t.push_back(0);
      }
      // Read the remaining types one by one until the shape is full.
      const uint8_t* q = base + f + 4;
      while (t.size() < shape_.aff.size()) {
        uint64_t st;
        size_t n = read_varint(q, end, st);
        if (!n || !type_ok(shape_, t.size(), st)) break;
        t.push_back(st);
        q += n;
      }
      if (t.size() != shape_.aff.size()) return 0;
      types = t;
      body = q;
    }
    if (!types) return 0;
    bool truncated = false;
    std::optional<std::vector<Value>> v;
    if (!allow_cut)
      v = decode_body(*types, body, end);
    else if (next_live(f) < img_.usable)
      v = decode_body_partial(*types, body, end, base + img_.usable, truncated);
    if (!v || !interesting(*v) || (allow_cut && !truncated)) return 0;
    std::string loc = where + " +" + std::to_string(f) + (truncated ? " (tail overwritten)" : "");
    add(std::nullopt, std::move(*v), std::move(loc), region, truncated);
    size_t stop = static_cast<size_t>(body - base) + static_cast<size_t>(body_size(*types));
    return std::min(stop, free_end);
  }

  // A record worth reporting: some text, or at least two non-NULL values.
  bool interesting(const std::vector<Value>& v) const {
    size_t non_null = 0;
    bool text = false;
    for (auto& x : v) {
      if (!x.null()) ++non_null;
      if (x.is_text() && !x.s.empty()) text = true;
    }
    return shape_.has_text ? text : non_null >= 2;
  }
};

void leaf_pages(const Image& img, uint32_t root, std::vector<uint32_t>& out) {
  std::set<uint32_t> seen;
  std::vector<uint32_t> stack{root};
  while (!stack.empty()) {
    uint32_t n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    std::string_view page = img.page(n);
    size_t hb = n == 1 ? 100 : 0;
    if (page.size() < hb + 12) continue;
    auto p = reinterpret_cast<const uint8_t*>(page.data());
    if (p[hb] == 0x0d) {
      out.push_back(n);
    } else if (p[hb] == 0x05) {
      size_t ncells = be16(p + hb + 3);
      stack.push_back(be32(p + hb + 8));
      for (size_t k = 0; k < ncells && hb + 12 + 2 * k + 2 <= page.size(); ++k) {
        size_t off = be16(p + hb + 12 + 2 * k);
        if (off + 4 <= page.size()) stack.push_back(be32(p + off));
      }
    }
  }
}

std::vector<uint32_t> freelist_pages(const Image& img, const DbHeader& h) {
  std::vector<uint32_t> out;
  std::set<uint32_t> seen;
  uint32_t trunk = h.freelist_trunk;
  while (trunk && seen.insert(trunk).second) {
    std::string_view page = img.page(trunk);
    if (page.size() < 8) break;
    auto p = reinterpret_cast<const uint8_t*>(page.data());
    out.push_back(trunk);
    uint32_t n = be32(p + 4);
    for (uint32_t k = 0; k < n && 8 + 4 * k + 4 <= page.size(); ++k) {
      uint32_t leaf = be32(p + 8 + 4 * k);
      if (leaf && leaf <= img.pages() && seen.insert(leaf).second) out.push_back(leaf);
    }
    trunk = be32(p);
  }
  return out;
}

uint64_t hash_values(const std::vector<Value>& v, const std::vector<bool>& skip) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t n) {
    auto p = static_cast<const unsigned char*>(data);
    for (size_t k = 0; k < n; ++k) h = (h ^ p[k]) * 1099511628211ull;
  };
  for (size_t k = 0; k < v.size(); ++k) {
    if (k < skip.size() && skip[k]) continue;
    auto t = static_cast<int>(v[k].type);
    mix(&t, sizeof t);
    switch (v[k].type) {
      case Value::Type::Int:
        mix(&v[k].i, 8);
        break;
      case Value::Type::Real:
        mix(&v[k].d, 8);
        break;
      case Value::Type::Text:
      case Value::Type::Blob:
        mix(v[k].s.data(), v[k].s.size());
        break;
      default:
        break;
    }
    mix("\x1f", 1);
  }
  return h;
}

// True when every value of `cut` is NULL (lost), equal to w's, or a text w's text begins with.
bool prefix_of(const std::vector<Value>& cut, const std::vector<Value>& w,
               const std::vector<bool>& skip) {
  if (cut.size() != w.size()) return false;
  for (size_t k = 0; k < cut.size(); ++k) {
    if ((k < skip.size() && skip[k]) || cut[k].null()) continue;
    if (cut[k].type != w[k].type) return false;
    switch (cut[k].type) {
      case Value::Type::Int:
        if (cut[k].i != w[k].i) return false;
        break;
      case Value::Type::Real:
        if (cut[k].d != w[k].d) return false;
        break;
      case Value::Type::Text:
        if (w[k].s.compare(0, cut[k].s.size(), cut[k].s) != 0) return false;
        break;
      default:
        if (cut[k].s != w[k].s) return false;
    }
  }
  return true;
}

}  // namespace

RecoveryContext::RecoveryContext(const std::filesystem::path& original,
                                 const std::filesystem::path& live, const std::string& wal_bytes,
                                 const Wal& wal,
                                 const std::optional<std::filesystem::path>& journal)
    : original_(original),
      wal_bytes_(wal_bytes),
      wal_(wal),
      journal_(journal ? read_file_bytes(*journal) : std::string()) {
  if (original != live) live_.emplace(live);
}

MappedFile::MappedFile(const std::filesystem::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + p.string());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot stat " + p.string());
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_) {
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      size_ = 0;
      ::close(fd);
      throw std::runtime_error("cannot map " + p.string());
    }
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

std::vector<RecoveredRecord> RecoveryContext::recover(
    const Table& table, const std::vector<std::optional<size_t>>& wanted) {
  RecoveryInput in;
  in.original = original_.bytes();
  in.live = live_ ? live_->bytes() : in.original;
  in.wal_applied = live_.has_value();
  in.wal_bytes = wal_bytes_;
  in.wal = &wal_;
  in.journal = journal_;
  return recover_records(in, table, wanted);
}

std::vector<RecoveredRecord> recover_records(const RecoveryInput& in, const Table& table,
                                             const std::vector<std::optional<size_t>>& wanted) {
  std::vector<RecoveredRecord> result;
  if (table.without_rowid || table.virtual_table || table.columns.empty() || !table.root_page)
    return result;
  std::string_view live_bytes = in.live;
  auto hdr = parse_header(live_bytes);
  if (!hdr || hdr->page_size < 512 || hdr->reserved + 480 > hdr->page_size) return result;
  Image live{live_bytes, hdr->page_size, hdr->page_size - hdr->reserved};
  Image orig{in.original, hdr->page_size, hdr->page_size - hdr->reserved};
  static const Wal no_wal;
  const Wal& wal = in.wal ? *in.wal : no_wal;
  std::string_view wal_bytes = in.wal_bytes, journal = in.journal;

  Shape shape;
  for (auto& c : table.columns) {
    shape.aff.push_back(affinity(c.decl_type));
    shape.ipk.push_back(c.ipk);
    if (shape.aff.back() == Affinity::Text) shape.has_text = true;
  }
  shape.min_cols = shape.aff.size() > 3 ? shape.aff.size() - 2 : shape.aff.size();

  std::vector<Candidate> cands;
  Scanner live_scan(live, shape, cands);
  std::vector<uint32_t> leaves;
  leaf_pages(live, static_cast<uint32_t>(table.root_page), leaves);
  for (uint32_t n : leaves)
    live_scan.scan_leaf(live.page(n), n, false, "page " + std::to_string(n));
  for (uint32_t n : freelist_pages(live, *hdr))
    live_scan.scan_leaf(live.page(n), n, true, "freelist page " + std::to_string(n), "unallocated");

  if (in.wal_applied && wal.page_size == hdr->page_size) {
    // Page images the WAL made obsolete: superseded or uncommitted frames, and the main file's
    // own version of every page the WAL replaced.
    std::set<uint32_t> replaced;
    for (size_t k = 0; k < wal.frames.size(); ++k) {
      const WalFrame& f = wal.frames[k];
      if (f.applied) replaced.insert(f.pgno);
      if (f.applied && !f.superseded) continue;
      std::string_view page = std::string_view(wal_bytes).substr(f.data_offset, wal.page_size);
      live_scan.scan_leaf(page, f.pgno, true,
                          "wal frame " + std::to_string(k + 1) + " page " + std::to_string(f.pgno),
                          "wal");
    }
    Scanner orig_scan(orig, shape, cands);
    for (uint32_t n : replaced)
      if (auto page = orig.page(n); !page.empty())
        orig_scan.scan_leaf(page, n, true, "main file page " + std::to_string(n) + " (before WAL)",
                            "wal");
  }
  if (journal.size() > 28) {
    // Rollback journal: header (magic, record count, nonce, initial size, sector size, page
    // size) padded to a sector, then records of page number, page image and checksum. Records
    // stay readable after the header is zeroed at commit, so walk them all.
    auto j = reinterpret_cast<const uint8_t*>(journal.data());
    uint32_t sector = be32(j + 20);
    if (sector < 512 || sector > 65536 || (sector & (sector - 1))) sector = 512;
    size_t rec = size_t{4} + hdr->page_size + 4;
    size_t k = 0;
    for (size_t off = sector; off + rec <= journal.size(); off += rec, ++k) {
      uint32_t pgno = be32(j + off);
      if (pgno == 0) continue;
      std::string_view page = std::string_view(journal).substr(off + 4, hdr->page_size);
      live_scan.scan_leaf(
          page, pgno, true,
          "journal record " + std::to_string(k + 1) + " page " + std::to_string(pgno), "journal");
    }
  }
  if (cands.empty()) return result;

  // Drop what is still live (same wanted values, the rowid alias aside) and repeats.
  std::vector<bool> skip;
  for (auto& w : wanted) skip.push_back(w && table.columns[*w].ipk);
  auto project = [&](const std::vector<Value>& vals, std::optional<int64_t> rowid) {
    std::vector<Value> out(wanted.size());
    for (size_t k = 0; k < wanted.size(); ++k) {
      if (!wanted[k] || *wanted[k] >= vals.size()) continue;
      out[k] = vals[*wanted[k]];
      if (table.columns[*wanted[k]].ipk && rowid) {
        out[k].type = Value::Type::Int;
        out[k].i = *rowid;
      }
    }
    return out;
  };
  std::unordered_set<uint64_t> seen;
  std::unordered_set<int64_t> live_rowids;
  // Values a cut record may be a prefix of: live rows and whole recovered records.
  bool any_cut = std::any_of(cands.begin(), cands.end(), [](auto& c) { return c.truncated; });
  std::vector<std::vector<Value>> whole;
  for (uint32_t n : leaves) {
    std::string_view page = live.page(n);
    size_t hb = n == 1 ? 100 : 0;
    auto p = reinterpret_cast<const uint8_t*>(page.data());
    size_t ncells = be16(p + hb + 3);
    for (size_t k = 0; k < ncells && hb + 8 + 2 * k + 2 <= page.size(); ++k) {
      auto c = read_cell(live, page, be16(p + hb + 8 + 2 * k), live.usable);
      if (!c) continue;
      live_rowids.insert(c->rowid);
      if (auto v = decode_payload(shape, c->payload)) {
        auto vals = project(*v, c->rowid);
        seen.insert(hash_values(vals, skip));
        if (any_cut) whole.push_back(std::move(vals));
      }
    }
  }
  if (any_cut)
    for (auto& c : cands)
      if (!c.truncated) whole.push_back(project(c.values, c.rowid));
  for (auto& c : cands) {
    // A cut record that still has a live row's rowid is that row's old copy, left in the gap
    // when SQLite defragmented the page, not a deleted row.
    if (c.truncated && c.rowid && live_rowids.count(*c.rowid)) continue;
    auto vals = project(c.values, c.rowid);
    // ... and one whose surviving values begin a live row or a whole recovered record is that
    // record's remains (a WAL frame or the journal often holds it whole).
    if (c.truncated &&
        std::any_of(whole.begin(), whole.end(), [&](auto& w) { return prefix_of(vals, w, skip); }))
      continue;
    if (!seen.insert(hash_values(vals, skip)).second) continue;
    result.push_back({c.rowid, std::move(vals), std::move(c.location), c.from});
  }
  return result;
}

}  // namespace safehold::chat
