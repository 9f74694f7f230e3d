#include "fs/internal/ewf_map.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "fs/error.hpp"

namespace safehold::fs::ewf {

namespace {

constexpr uint64_t kFileHeader = 13;           // "EVF\x09\x0d\x0a\xff\x00", 1, segment number, 0
constexpr uint64_t kDescriptor = 76;           // type[16] next u64 size u64 padding[40] Adler-32
constexpr uint64_t kTableHeader = 24;          // entries u32, pad u32, base u64, pad u32, Adler-32
constexpr uint32_t kMaxChunkSize = 16u << 20;  // EnCase's largest: 32768 sectors of 512 bytes
constexpr uint32_t kOffsetMask = 0x7fffffff;   // the top bit of a table entry: compressed

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t le64(const unsigned char* p) {
  return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32;
}
uint32_t adler(const unsigned char* p, size_t n) {
  return static_cast<uint32_t>(adler32(adler32(0, nullptr, 0), p, static_cast<uInt>(n)));
}

std::string name_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// The file name libewf gives segment `number` (1-based) of the set whose first segment is `first`:
// .E01-.E99, then .EAA-.EZZ, .FAA... (case kept from the first segment's extension).
std::string segment_name(const std::string& first, uint32_t number) {
  std::string s = first;
  if (s.size() < 3) return s;
  char base = s[s.size() - 3];
  const bool lower = base >= 'a' && base <= 'z';
  std::string ext;
  if (number < 100) {
    ext = {base, static_cast<char>('0' + number / 10), static_cast<char>('0' + number % 10)};
  } else {
    uint32_t n = number - 100;
    char third = static_cast<char>((lower ? 'a' : 'A') + n % 26);
    n /= 26;
    char second = static_cast<char>((lower ? 'a' : 'A') + n % 26);
    n /= 26;
    ext = {static_cast<char>(base + n), second, third};
  }
  return s.replace(s.size() - 3, 3, ext);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads exactly n bytes at off; false on a short read or an error.
bool read_at(int fd, uint64_t off, void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    off += static_cast<uint64_t>(r);
    n -= static_cast<size_t>(r);
  }
  return true;
}

// One segment's section chain: its tables (table2 merged into table), where it stops and why.
struct SectionWalk {
  std::vector<ParsedTable> tables;
  std::vector<uint64_t> sections;  // every intact descriptor's offset
  std::optional<Geometry> geometry;
  bool pending_table2 = false;  // tables.back() may still be replaced by its table2
  bool terminated = false;      // a "next" or "done" section was reached
  bool complete = false;        // ... and it was "done"
  std::string cut;              // why the chain ends early
};

// The segment file's size, after checking its header: signature and segment number.
uint64_t segment_size(int fd, uint32_t si, const std::string& name, const std::string& first) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw EvidenceError(first + ": segment file " + name +
                        " cannot be examined: " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  unsigned char head[kFileHeader];
  if (size < kFileHeader || !read_at(fd, 0, head, sizeof head))
    throw EvidenceError(first + ": segment file " + name + " is too short to be an EWF segment (" +
                        std::to_string(size) + " bytes)");
  if (std::memcmp(head, "EVF\x09\x0d\x0a\xff\x00", 8) != 0)
    throw EvidenceError(first + ": segment file " + name +
                        " is not an EWF (E01) segment (its signature is wrong)");
  const uint32_t number = uint32_t(head[9]) | uint32_t(head[10]) << 8;
  if (number != si + 1)
    throw EvidenceError(first + ": segment file " + name + " holds segment " +
                        std::to_string(number) + " of an EWF set, not segment " +
                        std::to_string(si + 1) + " (segments renamed, swapped or mixed)");
  return size;
}

// The media geometry from a volume (E01: 1052 bytes, Adler-32 of the first 1048 at 1048) or
// disk section (SMART S01: 94 bytes, at 90); every value checked before it sizes anything.
Geometry parse_volume(int fd, uint64_t off, uint64_t data_at, uint64_t data_len,
                      const std::string& name, const std::string& first) {
  const size_t len = data_len >= 1052 ? 1052 : data_len >= 94 ? 94 : 0;
  std::vector<unsigned char> v(len);
  if (len == 0 || !read_at(fd, data_at, v.data(), len) ||
      adler(v.data(), len - 4) != le32(v.data() + len - 4))
    throw EvidenceError(first + ": the volume section (media geometry) at byte " +
                        std::to_string(off) + " of " + name + " is damaged");
  const uint32_t spc = le32(&v[8]), bps = le32(&v[12]);
  const uint64_t sectors = len == 1052 ? le64(&v[16]) : le32(&v[16]);
  if (bps < 512 || bps > 65536 || (bps & (bps - 1)) != 0)
    throw EvidenceError(first + ": the volume section gives an impossible sector size (" +
                        std::to_string(bps) + " bytes)");
  if (spc == 0 || uint64_t{spc} * bps > kMaxChunkSize)
    throw EvidenceError(first + ": the volume section gives an impossible chunk size (" +
                        std::to_string(spc) + " sectors of " + std::to_string(bps) +
                        " bytes; at most 16 MiB is read)");
  if (sectors == 0) throw EvidenceError(first + ": the image holds no data (size 0)");
  if (sectors > (uint64_t{1} << 50) / bps)
    throw EvidenceError(first + ": the volume section gives an impossible media size (" +
                        std::to_string(sectors) + " sectors)");
  const Geometry g{bps, spc * bps, sectors * bps, le32(&v[4])};
  const uint64_t chunks = (g.media_size + g.chunk_size - 1) / g.chunk_size;
  if (g.volume_chunks != 0 && g.volume_chunks != chunks)
    throw EvidenceError(first +
                        ": the volume section is inconsistent: " + std::to_string(g.volume_chunks) +
                        " chunks of " + std::to_string(g.chunk_size) + " bytes cannot hold " +
                        std::to_string(g.media_size) + " bytes of media");
  return g;
}

// A table or table2 section; a damaged one says why instead of throwing (its twin may be intact).
ParsedTable parse_table(int fd, uint64_t off, uint64_t data_at, uint64_t data_len) {
  ParsedTable t;
  t.at = off;
  unsigned char h[kTableHeader];
  if (data_len < kTableHeader || !read_at(fd, data_at, h, sizeof h)) {
    t.why = "is too short for a table header";
    return t;
  }
  if (adler(h, 20) != le32(h + 20)) {
    t.why = "has a damaged header (Adler-32 mismatch)";
    return t;
  }
  const uint64_t n = le32(h);
  t.base = le64(h + 8);
  if (n == 0) {
    t.why = "holds no entries";
    return t;
  }
  if (kTableHeader + 4 * n > data_len) {
    t.why = "claims " + std::to_string(n) + " entries, more than its " + std::to_string(data_len) +
            " bytes hold";
    return t;
  }
  std::vector<unsigned char> raw(static_cast<size_t>(4 * n + 4));
  const bool footer = kTableHeader + 4 * n + 4 == data_len;  // EnCase 2 and later
  if (!read_at(fd, data_at + kTableHeader, raw.data(),
               static_cast<size_t>(4 * n + (footer ? 4 : 0)))) {
    t.why = "cannot be read";
  } else if (footer && adler(raw.data(), static_cast<size_t>(4 * n)) != le32(raw.data() + 4 * n)) {
    t.why = "has damaged entries (Adler-32 mismatch)";
  } else {
    t.entries.resize(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) t.entries[i] = le32(&raw[4 * i]);
    t.good = true;
  }
  return t;
}

// Adds a table section's result: a table2 replaces the table before it when that one is damaged.
void add_table(SectionWalk& w, ParsedTable t, bool is_table2) {
  if (is_table2 && w.pending_table2) {
    if (!w.tables.back().good && t.good) w.tables.back() = std::move(t);
    w.pending_table2 = false;
  } else {
    w.tables.push_back(std::move(t));
    w.pending_table2 = !is_table2;
  }
}

// Follows one segment's section chain from its file header to "next" or "done".
SectionWalk walk_sections(int fd, uint64_t size, uint32_t si, bool last_segment, bool want_volume,
                          const std::string& name, const std::string& first) {
  SectionWalk w;
  uint64_t off = kFileHeader;
  for (size_t guard = 0; guard < (size / kDescriptor) + 1; ++guard) {
    unsigned char d[kDescriptor];
    if (off + kDescriptor > size || !read_at(fd, off, d, sizeof d)) {
      w.cut = name + " ends at byte " + std::to_string(size) +
              " where a section descriptor was expected at byte " + std::to_string(off) +
              " (truncated)";
      break;
    }
    if (adler(d, 72) != le32(d + 72)) {
      w.cut = "the section descriptor at byte " + std::to_string(off) + " of " + name +
              " is damaged (Adler-32 mismatch)";
      break;
    }
    w.sections.push_back(off);
    const std::string type(reinterpret_cast<const char*>(d),
                           strnlen(reinterpret_cast<char*>(d), 16));
    if (type == "done" || type == "next") {
      w.terminated = true;
      w.complete = type == "done";
      if (type == "next" && last_segment)
        throw EvidenceError(first + ": the EWF set is incomplete: segment file " +
                            name_of(segment_name(first, si + 2)) + " is missing (" + name +
                            " ends with a 'next' section)");
      break;
    }
    const uint64_t next = le64(d + 16);
    if (next <= off || next > size || next - off < kDescriptor) {
      w.cut = "the section descriptor at byte " + std::to_string(off) + " of " + name +
              " points to byte " + std::to_string(next) +
              (next > size ? ", beyond the end of the file (truncated)" : ", not forward");
      break;
    }
    const uint64_t data_at = off + kDescriptor, data_len = next - data_at;
    if ((type == "volume" || type == "disk") && si == 0 && want_volume && !w.geometry)
      w.geometry = parse_volume(fd, off, data_at, data_len, name, first);
    else if (type == "table" || type == "table2")
      add_table(w, parse_table(fd, off, data_at, data_len), type == "table2");
    else if (type == "sectors")
      w.pending_table2 = false;
    off = next;
  }
  return w;
}

}  // namespace

struct ChunkMap::Segment {
  std::string path;
  uint64_t size = 0;
  std::vector<uint64_t> sections;  // every section descriptor's offset, ascending
};

struct ChunkMap::Table {
  uint32_t segment = 0;
  uint64_t base = 0;
  uint64_t first_chunk = 0;
  uint32_t count = 0;
  size_t entries_at = 0;
};

// Segment files opened on demand; no more than kMaxOpen at once (sets of thousands of segments).
struct ChunkMap::Files {
  static constexpr size_t kMaxOpen = 128;
  std::mutex m;
  std::vector<std::shared_ptr<Fd>> fds;
  size_t open = 0;

  std::shared_ptr<Fd> get(const std::vector<std::string>& paths, uint32_t segment,
                          std::string* why) {
    std::lock_guard<std::mutex> g(m);
    if (fds.size() < paths.size()) fds.resize(paths.size());
    if (auto& f = fds[segment]) return f;
    if (open >= kMaxOpen) {
      for (auto& f : fds) f.reset();  // readers holding one keep it until they are done
      open = 0;
    }
    int fd = ::open(paths[segment].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *why = name_of(paths[segment]) + " cannot be opened: " + std::strerror(errno);
      return nullptr;
    }
    ++open;
    return fds[segment] = std::make_shared<Fd>(fd);
  }
};

ChunkMap::~ChunkMap() = default;

uint32_t ChunkMap::data_size(uint64_t index) const {
  if (index >= chunk_count_) return 0;
  return static_cast<uint32_t>(
      std::min<uint64_t>(chunk_size_, media_size_ - index * uint64_t{chunk_size_}));
}

std::string ChunkMap::describe(uint64_t index) const {
  uint64_t a = index * uint64_t{chunk_size_};
  return "chunk " + std::to_string(index) + " (image bytes " + std::to_string(a) + "-" +
         std::to_string(a + data_size(index) - 1) + ")";
}

std::shared_ptr<const ChunkMap> ChunkMap::open(const std::vector<std::string>& paths) {
  if (paths.empty()) throw EvidenceError("no EWF segment files given");
  std::shared_ptr<ChunkMap> map(new ChunkMap());
  map->paths_ = paths;
  map->files_ = std::make_unique<Files>();
  const std::string& first = paths.front();
  bool have_volume = false, complete = false;
  std::string stop;  // set once chunks can no longer be placed: the reason

  for (uint32_t si = 0; si < paths.size() && !complete; ++si) {
    const std::string name = name_of(paths[si]);
    std::string why;
    auto fd = map->files_->get(paths, si, &why);
    if (!fd) throw EvidenceError(first + ": segment file " + why);
    Segment seg;
    seg.path = paths[si];
    seg.size = segment_size(fd->get(), si, name, first);
    SectionWalk walk =
        walk_sections(fd->get(), seg.size, si, si + 1 == paths.size(), !have_volume, name, first);
    if (walk.geometry) {
      map->set_geometry(*walk.geometry);
      have_volume = true;
    }
    if (!have_volume)
      throw EvidenceError(first + ": no usable volume section (media geometry) in " + name);
    complete = walk.complete;
    seg.sections = std::move(walk.sections);
    map->segments_.push_back(std::move(seg));
    stop = map->place_tables(si, walk.tables, name);
    if (!walk.terminated && stop.empty()) stop = walk.cut;
    if (!stop.empty()) break;  // later segments' chunks cannot be numbered
  }
  if (!complete && stop.empty())
    stop = "the last segment file " + name_of(map->segments_.back().path) +
           " does not end the set (no 'done' section)";
  map->max_stored_ = size_t{map->chunk_size_} + map->chunk_size_ / 64 + 1024;
  map->find_damage(stop);
  return map;
}

void ChunkMap::set_geometry(const Geometry& g) {
  bytes_per_sector_ = g.bytes_per_sector;
  chunk_size_ = g.chunk_size;
  media_size_ = g.media_size;
  chunk_count_ = (media_size_ + chunk_size_ - 1) / chunk_size_;
}

std::string ChunkMap::place_tables(uint32_t si, const std::vector<ParsedTable>& tables,
                                   const std::string& name) {
  // This segment's tables go after the chunks located so far.
  for (const auto& t : tables) {
    if (!t.good)
      return "the table at byte " + std::to_string(t.at) + " of " + name + " " + t.why +
             " and no intact copy of it exists";
    Table tab;
    tab.segment = si;
    tab.base = t.base;
    tab.first_chunk = located_;
    tab.count = static_cast<uint32_t>(t.entries.size());
    tab.entries_at = entries_.size();
    entries_.insert(entries_.end(), t.entries.begin(), t.entries.end());
    tables_.push_back(tab);
    located_ += tab.count;
  }
  return "";
}

void ChunkMap::find_damage(const std::string& stop) {
  // What the structure alone says cannot be read, as runs of chunks with one reason.
  auto add = [&](uint64_t index, std::string reason) {
    auto& d = damage_;
    if (!d.empty() && d.back().first_chunk + d.back().count == index && d.back().reason == reason)
      ++d.back().count;
    else
      d.push_back({index, 1, std::move(reason)});
  };
  const uint64_t located = std::min(located_, chunk_count_);
  for (uint64_t i = 0; i < located; ++i) {
    uint32_t s = 0, size = 0;
    uint64_t o = 0;
    bool c = false;
    std::string why = locate(i, &s, &o, &size, &c);
    if (!why.empty()) add(i, std::move(why));
  }
  if (located < chunk_count_)
    damage_.push_back({located, chunk_count_ - located,
                       "no table locates it (" +
                           (stop.empty() ? std::string("the tables end early") : stop) + ")"});
}

std::string ChunkMap::locate(uint64_t index, uint32_t* segment, uint64_t* offset, uint32_t* size,
                             bool* compressed) const {
  if (index >= chunk_count_ || index >= located_) return "no table locates it";
  auto it = std::upper_bound(tables_.begin(), tables_.end(), index,
                             [](uint64_t i, const Table& t) { return i < t.first_chunk; });
  const Table& t = *(it - 1);
  const Segment& seg = segments_[t.segment];
  const uint64_t k = index - t.first_chunk;
  const uint32_t e = entries_[t.entries_at + k];
  const uint64_t at = t.base + (e & kOffsetMask);
  const std::string where = " (table entry in " + name_of(seg.path) + ")";
  *segment = t.segment;
  *compressed = (e & ~kOffsetMask) != 0;
  if (t.base > seg.size || at >= seg.size)
    return "its data would start at byte " + std::to_string(at) + ", beyond the end of " +
           name_of(seg.path) + " (" + std::to_string(seg.size) + " bytes)" + where;
  // Chunk data never overlaps a section descriptor: the next one bounds it.
  auto sec = std::upper_bound(seg.sections.begin(), seg.sections.end(), at);
  if (at < kFileHeader || (sec != seg.sections.begin() && at < *(sec - 1) + kDescriptor))
    return "its data would start at byte " + std::to_string(at) + ", inside a section header" +
           where;
  const uint64_t bound = sec == seg.sections.end() ? seg.size : *sec;
  const uint32_t want = data_size(index);
  uint64_t stored = 0;
  if (k + 1 < t.count) {
    const uint64_t next = t.base + (entries_[t.entries_at + k + 1] & kOffsetMask);
    if (next <= at)
      return "its table entry gives a stored size of " + std::string(next == at ? "0" : "below 0") +
             " bytes" + where;
    stored = next - at;
    if (at + stored > bound)
      return "its data (" + std::to_string(stored) + " bytes at byte " + std::to_string(at) +
             ") runs over the section boundary at byte " + std::to_string(bound) + where;
    // The media's last chunk may hold more than the media's last bytes (ewfacquire stores the
    // source's bytes beyond its last whole sector there), never more than a chunk.
    const bool last_ok = index + 1 == chunk_count_ && stored >= uint64_t{want} + 4 &&
                         stored <= uint64_t{chunk_size_} + 4;
    if (*compressed ? stored > max_stored_ : (stored != uint64_t{want} + 4 && !last_ok))
      return "its table entry gives an impossible stored size of " + std::to_string(stored) +
             " bytes for a " + (*compressed ? "compressed" : "stored") + " chunk of " +
             std::to_string(want) + " bytes" + where;
  } else {
    // The last chunk of a table ends where the section holding it ends.
    stored = bound - at;
    if (*compressed)
      stored = std::min<uint64_t>(stored, max_stored_);
    else if (stored < uint64_t{want} + 4)
      return "its data would run past the section boundary at byte " + std::to_string(bound) +
             where;
    else if (index + 1 == chunk_count_)
      stored = std::min<uint64_t>(stored, uint64_t{chunk_size_} + 4);
    else
      stored = uint64_t{want} + 4;
  }
  *offset = at;
  *size = static_cast<uint32_t>(stored);
  return "";
}

size_t ChunkMap::read_stored(uint64_t index, std::span<unsigned char> buf, bool* compressed,
                             std::string* why) const {
  uint32_t s = 0, size = 0;
  uint64_t at = 0;
  *why = locate(index, &s, &at, &size, compressed);
  if (!why->empty()) return 0;
  if (size > buf.size()) {  // cannot happen: locate bounds every size by max_stored()
    *why = "its stored size exceeds the read buffer";
    return 0;
  }
  auto fd = files_->get(paths_, s, why);
  if (!fd) return 0;
  errno = 0;
  if (!read_at(fd->get(), at, buf.data(), size)) {
    *why = "its " + std::to_string(size) + " bytes at byte " + std::to_string(at) + " of " +
           name_of(paths_[s]) + " cannot be read" +
           (errno ? std::string(": ") + std::strerror(errno) : std::string(" (file truncated)"));
    return 0;
  }
  return size;
}

std::string decode_chunk(libdeflate_decompressor* d, std::span<const unsigned char> stored,
                         bool compressed, std::byte* out, uint32_t data_size, uint32_t chunk_size) {
  // Only the media's last chunk is short, and it may hold more than the media's last bytes (up to
  // a whole chunk): decoded in full into a scratch buffer, of which the media's part is kept.
  const bool short_chunk = data_size < chunk_size;
  if (compressed) {
    thread_local std::vector<std::byte> full;
    std::byte* dst = out;
    size_t room = data_size;
    if (short_chunk) {
      full.resize(chunk_size);
      dst = full.data();
      room = chunk_size;
    }
    size_t in = 0, actual = 0;
    auto r =
        libdeflate_zlib_decompress_ex(d, stored.data(), stored.size(), dst, room, &in, &actual);
    if ((r == LIBDEFLATE_SUCCESS || r == LIBDEFLATE_SHORT_OUTPUT) && actual < data_size)
      return "it decompresses to " + std::to_string(actual) + " bytes, fewer than its " +
             std::to_string(data_size);
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
      return "it decompresses to more than " + std::to_string(room) + " bytes";
    if (r != LIBDEFLATE_SUCCESS) return "its compressed data is corrupt (zlib stream or Adler-32)";
    if (short_chunk) std::memcpy(out, full.data(), data_size);
    return "";
  }
  if (stored.size() < size_t{data_size} + 4 || stored.size() > size_t{chunk_size} + 4)
    return "its " + std::to_string(stored.size()) + " stored bytes do not hold " +
           std::to_string(data_size) + " bytes and an Adler-32";
  const size_t n = stored.size() - 4;
  if (adler(stored.data(), n) != le32(stored.data() + n))
    return "its Adler-32 does not match its data";
  std::memcpy(out, stored.data(), data_size);
  return "";
}

}  // namespace safehold::fs::ewf
