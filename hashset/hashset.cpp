// The set file: writer (spool by first byte, sort each bucket, write with a prefix index) and the
// memory-mapped reader. Layout in docs/hashset.md.
#include "hashset/hashset.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "hashset/format.hpp"

namespace safehold::hashset {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string sys_error(const std::string& what, const std::filesystem::path& p) {
  return fmt::format("{}: {}: {}", p.string(), what, std::strerror(errno));
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Bits of the prefix index for a table of n records: about two to four records a bucket.
uint32_t index_bits_for(uint64_t n) {
  if (n < 4) return 0;
  uint32_t log2 = 63 - static_cast<uint32_t>(__builtin_clzll(n));
  return std::min<uint32_t>(log2 - 1, format::kMaxIndexBits);
}

// Sequential writer with a large buffer that knows its position.
class OutFile {
 public:
  OutFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {
    buf_.reserve(kBuf);
  }
  void write(const void* data, size_t n) {
    auto* p = static_cast<const uint8_t*>(data);
    if (buf_.size() + n > kBuf) flush();
    if (n >= kBuf) {
      write_all(p, n);
    } else {
      buf_.insert(buf_.end(), p, p + n);
    }
    pos_ += n;
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t zeros[format::kAlign] = {};
    uint64_t rem = pos_ % alignment;
    if (rem) write(zeros, alignment - rem);
  }
  uint64_t pos() const { return pos_; }
  void flush() {
    if (!buf_.empty()) write_all(buf_.data(), buf_.size());
    buf_.clear();
  }

 private:
  static constexpr size_t kBuf = 4 << 20;
  void write_all(const uint8_t* p, size_t n) {
    while (n) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(sys_error("write failed", path_));
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  int fd_;
  std::filesystem::path path_;
  std::vector<uint8_t> buf_;
  uint64_t pos_ = 0;
};

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Sorts fixed-size records by digest, then category id, and drops repeated digests.
template <size_t R>
size_t sort_unique(uint8_t* data, size_t n) {
  struct Rec {
    uint8_t b[R];
  };
  static_assert(sizeof(Rec) == R);
  constexpr size_t D = R - 2;
  auto* recs = reinterpret_cast<Rec*>(data);
  auto cat = [](const Rec& r) { return static_cast<uint16_t>(r.b[D] | (r.b[D + 1] << 8)); };
  std::sort(recs, recs + n, [&](const Rec& a, const Rec& b) {
    int c = std::memcmp(a.b, b.b, D);
    return c < 0 || (c == 0 && cat(a) < cat(b));
  });
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (out && std::memcmp(recs[out - 1].b, recs[i].b, D) == 0) continue;
    if (out != i) recs[out] = recs[i];
    ++out;
  }
  return out;
}

size_t sort_unique(size_t record_size, uint8_t* data, size_t n) {
  switch (record_size) {
    case 18:
      return sort_unique<18>(data, n);
    case 22:
      return sort_unique<22>(data, n);
    case 34:
      return sort_unique<34>(data, n);
  }
  throw std::logic_error("bad record size");
}

}  // namespace

std::string_view to_string(Algo a) {
  switch (a) {
    case Algo::md5:
      return "md5";
    case Algo::sha1:
      return "sha1";
    case Algo::sha256:
      return "sha256";
  }
  return "?";
}

std::string Digest::hex() const {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : view()) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::optional<Digest> parse_digest(std::string_view hex, Algo a) {
  if (hex.size() != 2 * digest_size(a)) return std::nullopt;
  Digest d;
  d.algo = a;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d.bytes[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return d;
}

std::optional<Digest> parse_digest(std::string_view hex) {
  switch (hex.size()) {
    case 32:
      return parse_digest(hex, Algo::md5);
    case 40:
      return parse_digest(hex, Algo::sha1);
    case 64:
      return parse_digest(hex, Algo::sha256);
  }
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view s) {
  if (s == "text") return Format::text;
  if (s == "nsrl") return Format::nsrl;
  if (s == "nsrl-v3") return Format::nsrl_v3;
  if (s == "vics") return Format::vics;
  return std::nullopt;
}

std::string_view to_string(Format f) {
  switch (f) {
    case Format::text:
      return "text";
    case Format::nsrl:
      return "nsrl";
    case Format::nsrl_v3:
      return "nsrl-v3";
    case Format::vics:
      return "vics";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

// Records of one algorithm, spooled by their first byte: 256 in-memory buffers, each flushed as a
// block to one anonymous temporary file when full. Memory stays at 256 buffers whatever the count.
class Spool {
 public:
  Spool(size_t record_size, const std::filesystem::path& dir, size_t block)
      : record_size_(record_size), dir_(dir) {
    block_bytes_ = std::max<size_t>(1, block / record_size) * record_size;
  }
  void add(const uint8_t* rec) {
    auto& b = buffers_[rec[0]];
    if (b.capacity() == 0) b.reserve(block_bytes_);
    b.insert(b.end(), rec, rec + record_size_);
    ++count_;
    if (b.size() >= block_bytes_) spill(rec[0]);
  }
  uint64_t count() const { return count_; }
  // The records of bucket i, in arrival order.
  std::vector<uint8_t> take(int i) {
    std::vector<uint8_t> out;
    size_t total = buffers_[i].size();
    for (auto& [off, len] : blocks_[i]) total += len;
    out.resize(total);
    size_t pos = 0;
    for (auto& [off, len] : blocks_[i]) {
      size_t got = 0;
      while (got < len) {
        ssize_t r =
            ::pread(tmp_.fd, out.data() + pos + got, len - got, static_cast<off_t>(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw std::runtime_error(sys_error("cannot read the import spool", dir_));
        got += static_cast<size_t>(r);
      }
      pos += len;
    }
    if (!buffers_[i].empty()) std::memcpy(out.data() + pos, buffers_[i].data(), buffers_[i].size());
    std::vector<uint8_t>().swap(buffers_[i]);
    blocks_[i].clear();
    return out;
  }

 private:
  void spill(int i) {
    if (tmp_.fd < 0) {
      tmp_.fd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (tmp_.fd < 0) {
        // Filesystems without O_TMPFILE: a named file unlinked at once.
        std::string templ = (dir_ / ".safehold-hashset-spool.XXXXXX").string();
        tmp_.fd = ::mkstemp(templ.data());
        if (tmp_.fd < 0)
          throw std::runtime_error(sys_error("cannot create the import spool", dir_));
        ::unlink(templ.c_str());
      }
    }
    auto& b = buffers_[i];
    size_t done = 0;
    while (done < b.size()) {
      ssize_t w = ::pwrite(tmp_.fd, b.data() + done, b.size() - done,
                           static_cast<off_t>(spool_size_ + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw std::runtime_error(sys_error("cannot write the import spool", dir_));
      done += static_cast<size_t>(w);
    }
    blocks_[i].emplace_back(spool_size_, b.size());
    spool_size_ += b.size();
    b.clear();
  }

  size_t record_size_;
  size_t block_bytes_;
  std::filesystem::path dir_;
  std::array<std::vector<uint8_t>, 256> buffers_;
  std::array<std::vector<std::pair<uint64_t, size_t>>, 256> blocks_;
  Fd tmp_;
  uint64_t spool_size_ = 0;
  uint64_t count_ = 0;
};

}  // namespace

struct HashSetWriter::Impl {
  std::filesystem::path output;
  std::string name;
  bool ignorable;
  std::string source_format;
  std::vector<std::string> categories{""};
  std::unordered_map<std::string, uint16_t> category_ids{{"", 0}};
  std::array<std::unique_ptr<Spool>, kAlgoCount> spools;
  uint64_t records = 0;
  std::vector<uint8_t> videos;  // the videos section, as written
  uint64_t video_count = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

HashSetWriter::HashSetWriter(std::filesystem::path output, std::string name, bool ignorable,
                             std::string source_format, size_t spool_block)
    : impl_(std::make_unique<Impl>()) {
  impl_->output = std::move(output);
  impl_->name = std::move(name);
  impl_->ignorable = ignorable;
  impl_->source_format = std::move(source_format);
  auto dir = impl_->output.parent_path();
  if (dir.empty()) dir = ".";
  for (int a = 0; a < kAlgoCount; ++a)
    impl_->spools[a] =
        std::make_unique<Spool>(digest_size(static_cast<Algo>(a)) + 2, dir, spool_block);
}

HashSetWriter::~HashSetWriter() = default;

uint16_t HashSetWriter::category_id(std::string_view label) {
  auto it = impl_->category_ids.find(std::string(label));
  if (it != impl_->category_ids.end()) return it->second;
  if (impl_->categories.size() >= 65535)
    throw std::runtime_error("more than 65535 distinct categories");
  auto id = static_cast<uint16_t>(impl_->categories.size());
  impl_->categories.emplace_back(label);
  impl_->category_ids.emplace(std::string(label), id);
  return id;
}

void HashSetWriter::add(const Digest& d, uint16_t category) {
  uint8_t rec[34];
  size_t n = digest_size(d.algo);
  std::memcpy(rec, d.bytes.data(), n);
  rec[n] = static_cast<uint8_t>(category & 0xff);
  rec[n + 1] = static_cast<uint8_t>(category >> 8);
  impl_->spools[static_cast<int>(d.algo)]->add(rec);
  ++impl_->records;
}

void HashSetWriter::add_video(std::string_view name, uint16_t category,
                              const std::vector<VideoFrameHash>& frames) {
  if (name.size() > 65535) throw std::runtime_error("a video's name is longer than 65535 bytes");
  if (frames.empty() || frames.size() > format::kMaxVideoFrames)
    throw std::runtime_error(fmt::format("video {}: {} frames (1 to {} allowed)", name,
                                         frames.size(), format::kMaxVideoFrames));
  auto& v = impl_->videos;
  auto put16 = [&](uint16_t x) {
    v.push_back(static_cast<uint8_t>(x & 0xff));
    v.push_back(static_cast<uint8_t>(x >> 8));
  };
  put16(category);
  put16(static_cast<uint16_t>(name.size()));
  auto n = static_cast<uint32_t>(frames.size());
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(n >> (8 * i)));
  v.insert(v.end(), name.begin(), name.end());
  for (const auto& f : frames) {
    for (uint16_t w : f.words) put16(w);
    v.push_back(f.quality);
  }
  ++impl_->video_count;
}

ImportStats HashSetWriter::finish(unsigned threads) {
  std::string tmp_name = impl_->output.string() + ".partial";
  try {
    return finish_to(tmp_name, threads);
  } catch (...) {
    ::unlink(tmp_name.c_str());
    throw;
  }
}

ImportStats HashSetWriter::finish_to(const std::string& tmp_name, unsigned threads) {
  auto& im = *impl_;
  threads = std::clamp(threads, 1u, 64u);
  Fd out(::open(tmp_name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.fd < 0) throw std::runtime_error(sys_error("cannot create", tmp_name));
  OutFile f(out.fd, tmp_name);
  format::Header h{};
  f.write(&h, sizeof h);
  f.pad_to(format::kAlign);

  ImportStats st;
  st.records = im.records;
  for (int a = 0; a < kAlgoCount; ++a) {
    auto& spool = *im.spools[a];
    auto& td = h.tables[a];
    size_t rs = digest_size(static_cast<Algo>(a)) + 2;
    td.algo = static_cast<uint32_t>(a);
    td.record_size = static_cast<uint32_t>(rs);
    if (spool.count() > UINT32_MAX)
      throw std::runtime_error("more than 4294967295 hashes of one algorithm in one set");
    td.index_bits = index_bits_for(spool.count());
    std::vector<uint32_t> index((size_t{1} << td.index_bits) + 1, 0);
    f.pad_to(format::kAlign);
    td.records_offset = f.pos();
    uint64_t written = 0;
    size_t next_bucket = 0;  // index entries below this are filled
    auto fill_index = [&](const uint8_t* recs, size_t n) {
      for (size_t i = 0; i < n; ++i) {
        const uint8_t* r = recs + i * rs;
        size_t b = td.index_bits ? be32(r) >> (32 - td.index_bits) : 0;
        while (next_bucket <= b) index[next_bucket++] = static_cast<uint32_t>(written + i);
      }
    };
    // Buckets are sorted `threads` at a time and written in order.
    for (int first = 0; first < 256; first += static_cast<int>(threads)) {
      int last = std::min(256, first + static_cast<int>(threads));
      std::vector<std::vector<uint8_t>> data(last - first);
      std::vector<size_t> kept(last - first);
      for (int i = first; i < last; ++i) data[i - first] = spool.take(i);
      std::vector<std::thread> pool;
      for (int i = first; i < last; ++i) {
        auto job = [&, i] {
          auto& d = data[i - first];
          kept[i - first] = sort_unique(rs, d.data(), d.size() / rs);
        };
        if (i + 1 == last)
          job();
        else
          pool.emplace_back(job);
      }
      for (auto& t : pool) t.join();
      for (int i = first; i < last; ++i) {
        auto& d = data[i - first];
        size_t n = kept[i - first];
        fill_index(d.data(), n);
        f.write(d.data(), n * rs);
        written += n;
      }
    }
    while (next_bucket < index.size()) index[next_bucket++] = static_cast<uint32_t>(written);
    td.count = written;
    st.unique[a] = written;
    f.pad_to(format::kAlign);
    td.index_offset = f.pos();
    f.write(index.data(), index.size() * sizeof(uint32_t));
  }

  // Categories: u32 count, then for each id a u16 length and the bytes.
  f.pad_to(format::kAlign);
  h.categories_offset = f.pos();
  uint32_t ncat = static_cast<uint32_t>(im.categories.size());
  f.write(&ncat, 4);
  for (auto& c : im.categories) {
    uint16_t len = static_cast<uint16_t>(std::min<size_t>(c.size(), 65535));
    f.write(&len, 2);
    f.write(c.data(), len);
  }
  h.categories_length = f.pos() - h.categories_offset;
  h.category_count = ncat;
  st.categories = ncat - 1;

  nlohmann::json meta = {{"name", im.name},
                         {"source_format", im.source_format},
                         {"ignorable", im.ignorable},
                         {"records", im.records},
                         {"created_by", "safehold"}};
  if (im.video_count) {
    f.pad_to(format::kAlign);
    meta["videos"] = {{"offset", f.pos()}, {"length", im.videos.size()}, {"count", im.video_count}};
    f.write(im.videos.data(), im.videos.size());
  }
  std::string meta_s = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  h.metadata_offset = f.pos();
  h.metadata_length = meta_s.size();
  f.write(meta_s.data(), meta_s.size());

  std::memcpy(h.magic, format::kMagic, sizeof h.magic);
  h.version = im.video_count ? format::kVersionVideos : format::kVersion;
  h.flags = im.ignorable ? format::kFlagIgnorable : 0;
  h.file_size = f.pos();
  f.flush();
  if (::pwrite(out.fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) || ::fsync(out.fd) != 0)
    throw std::runtime_error(sys_error("write failed", tmp_name));
  if (::rename(tmp_name.c_str(), im.output.c_str()) != 0)
    throw std::runtime_error(sys_error("cannot rename into place", im.output));
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - im.start).count();
  return st;
}

// ---------------------------------------------------------------------------------------------
// Reader

std::unique_ptr<HashSet> HashSet::open(const std::filesystem::path& path) {
  auto bad = [&](const std::string& why) {
    return std::runtime_error(
        fmt::format("{}: not a valid Safehold hash set: {}", path.string(), why));
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) throw std::runtime_error(sys_error("cannot open", path));
  struct stat sb {};
  if (::fstat(fd.fd, &sb) != 0) throw std::runtime_error(sys_error("cannot stat", path));
  auto size = static_cast<uint64_t>(sb.st_size);
  if (size < sizeof(format::Header)) throw bad("too short");
  // Populated at once: lookups then never take a page fault (the file is page cache, shared).
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd.fd, 0);
  if (map == MAP_FAILED) throw std::runtime_error(sys_error("cannot map", path));
  std::unique_ptr<HashSet> s(new HashSet());
  s->map_ = map;
  s->map_size_ = size;
  auto* base = static_cast<const uint8_t*>(map);
  format::Header h;
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, format::kMagic, sizeof h.magic) != 0) throw bad("wrong magic");
  if (h.version != format::kVersion && h.version != format::kVersionVideos)
    throw bad(fmt::format("unsupported version {}", h.version));
  if (h.file_size != size) throw bad("truncated or extended (size differs from header)");
  auto within = [&](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  if (!within(h.metadata_offset, h.metadata_length) ||
      !within(h.categories_offset, h.categories_length))
    throw bad("section outside the file");
  auto meta = nlohmann::json::parse(base + h.metadata_offset,
                                    base + h.metadata_offset + h.metadata_length, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) throw bad("metadata is not JSON");
  s->name_ = meta.value("name", std::string());
  s->source_format_ = meta.value("source_format", std::string());
  s->ignorable_ = (h.flags & format::kFlagIgnorable) != 0;

  const uint8_t* c = base + h.categories_offset;
  const uint8_t* cend = c + h.categories_length;
  uint32_t ncat = 0;
  if (cend - c < 4) throw bad("category table too short");
  std::memcpy(&ncat, c, 4);
  c += 4;
  if (ncat != h.category_count || ncat == 0 || ncat > 65536) throw bad("category count");
  for (uint32_t i = 0; i < ncat; ++i) {
    uint16_t len = 0;
    if (cend - c < 2) throw bad("category table too short");
    std::memcpy(&len, c, 2);
    c += 2;
    if (cend - c < len) throw bad("category table too short");
    s->categories_.emplace_back(reinterpret_cast<const char*>(c), len);
    c += len;
  }

  for (int a = 0; a < kAlgoCount; ++a) {
    auto& td = h.tables[a];
    size_t rs = digest_size(static_cast<Algo>(a)) + 2;
    if (td.algo != static_cast<uint32_t>(a) || td.record_size != rs) throw bad("table descriptor");
    if (td.index_bits > format::kMaxIndexBits || td.count > UINT32_MAX) throw bad("table sizes");
    uint64_t index_entries = (uint64_t{1} << td.index_bits) + 1;
    if (!within(td.records_offset, td.count * rs) || td.index_offset % 4 != 0 ||
        !within(td.index_offset, index_entries * 4))
      throw bad("table outside the file");
    auto& t = s->tables_[a];
    t.records = base + td.records_offset;
    t.count = td.count;
    t.index = reinterpret_cast<const uint32_t*>(base + td.index_offset);
    t.index_bits = td.index_bits;
    // Every bucket must lie inside the table, so lookups never leave the mapping.
    uint32_t prev = 0;
    for (uint64_t i = 0; i < index_entries; ++i) {
      if (t.index[i] < prev || t.index[i] > td.count) throw bad("prefix index out of order");
      prev = t.index[i];
    }
    if (prev != td.count) throw bad("prefix index does not end at the table's end");
    for (uint64_t i = 0; i < td.count; i += std::max<uint64_t>(1, td.count / 64)) {
      uint16_t cat =
          static_cast<uint16_t>(t.records[i * rs + rs - 2] | (t.records[i * rs + rs - 1] << 8));
      if (cat >= ncat) throw bad("category id out of range");
    }
  }
  if (h.version == format::kVersionVideos) {
    const auto& v = meta.value("videos", nlohmann::json());
    auto num = [&](const char* k) {
      if (!v.is_object() || !v.contains(k) || !v[k].is_number_unsigned())
        throw bad("version 2 without its videos section");
      return v[k].get<uint64_t>();
    };
    uint64_t off = num("offset"), len = num("length"), count = num("count");
    if (!within(off, len)) throw bad("section outside the file");
    try {
      s->read_videos(base, size, off, len, count);
    } catch (const std::out_of_range& e) {
      throw bad(e.what());
    }
  }
  ::madvise(map, size, MADV_RANDOM);
  return s;
}

void HashSet::read_videos(const uint8_t* base, uint64_t, uint64_t off, uint64_t len,
                          uint64_t count) {
  const uint8_t* p = base + off;
  const uint8_t* end = p + len;
  if (count > len / 8) throw std::out_of_range("video count larger than its section");
  for (uint64_t i = 0; i < count; ++i) {
    if (end - p < 8) throw std::out_of_range("videos section too short");
    KnownVideo v;
    v.category = static_cast<uint16_t>(p[0] | p[1] << 8);
    uint16_t name_len = static_cast<uint16_t>(p[2] | p[3] << 8);
    uint32_t frames = static_cast<uint32_t>(p[4]) | static_cast<uint32_t>(p[5]) << 8 |
                      static_cast<uint32_t>(p[6]) << 16 | static_cast<uint32_t>(p[7]) << 24;
    p += 8;
    if (v.category >= categories_.size()) throw std::out_of_range("video category id out of range");
    if (frames == 0 || frames > format::kMaxVideoFrames)
      throw std::out_of_range("video frame count out of range");
    uint64_t need = name_len + uint64_t{frames} * kVideoFrameBytes;
    if (static_cast<uint64_t>(end - p) < need) throw std::out_of_range("videos section too short");
    v.name = std::string_view(reinterpret_cast<const char*>(p), name_len);
    v.frames = std::span<const uint8_t>(p + name_len, uint64_t{frames} * kVideoFrameBytes);
    p += need;
    for (size_t k = 0; k < v.count(); ++k)
      if (v.frames[k * kVideoFrameBytes + 32] > 100)
        throw std::out_of_range("frame quality over 100");
    videos_.push_back(v);
  }
}

VideoFrameHash KnownVideo::frame(size_t i) const {
  VideoFrameHash f;
  const uint8_t* p = frames.data() + i * kVideoFrameBytes;
  for (size_t w = 0; w < 16; ++w) f.words[w] = static_cast<uint16_t>(p[2 * w] | p[2 * w + 1] << 8);
  f.quality = p[32];
  return f;
}

Match HashSet::video_match(const KnownVideo& v) const {
  Match m;
  m.set = name_;
  if (v.category > 0 && v.category < categories_.size()) m.category = categories_[v.category];
  m.ignorable = ignorable_;
  m.video = std::string(v.name);
  return m;
}

HashSet::~HashSet() {
  if (map_) ::munmap(map_, map_size_);
}

int HashSet::find(const Digest& d) const {
  const Table& t = tables_[static_cast<int>(d.algo)];
  if (t.count == 0) return -1;
  const size_t dn = digest_size(d.algo), rs = dn + 2;
  size_t b = t.index_bits ? be32(d.bytes.data()) >> (32 - t.index_bits) : 0;
  size_t lo = t.index[b], hi = t.index[b + 1];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const uint8_t* r = t.records + mid * rs;
    int c = std::memcmp(r, d.bytes.data(), dn);
    if (c == 0) {
      uint16_t cat = static_cast<uint16_t>(r[dn] | (r[dn + 1] << 8));
      return cat < categories_.size() ? cat : 0;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

void HashSet::find_many(Algo a, const uint8_t* digests, size_t n, int32_t* out) const {
  const Table& t = tables_[static_cast<int>(a)];
  const size_t dn = digest_size(a), rs = dn + 2;
  if (t.count == 0) {
    std::fill(out, out + n, -1);
    return;
  }
  auto bucket = [&](size_t i) {
    return t.index_bits ? be32(digests + i * dn) >> (32 - t.index_bits) : 0;
  };
  // A three-stage pipeline: prefetch the index entry of digest i+2L, the first records of digest
  // i+L's bucket, and search digest i, so that many cache misses are in flight at once.
  constexpr size_t L = 8;
  for (size_t i = 0; i < n + 2 * L; ++i) {
    if (i < n) __builtin_prefetch(t.index + bucket(i));
    if (i >= L && i - L < n) {
      size_t j = i - L, b = bucket(j);
      const uint8_t* r = t.records + size_t{t.index[b]} * rs;
      __builtin_prefetch(r);
      __builtin_prefetch(r + 64);
    }
    if (i >= 2 * L && i - 2 * L < n) {
      size_t j = i - 2 * L;
      Digest d;
      d.algo = a;
      std::memcpy(d.bytes.data(), digests + j * dn, dn);
      out[j] = find(d);
    }
  }
}

std::optional<Match> HashSet::lookup(const Digest& d) const {
  int cat = find(d);
  if (cat < 0) return std::nullopt;
  Match m;
  m.set = name_;
  if (cat > 0) m.category = categories_[static_cast<size_t>(cat)];
  m.ignorable = ignorable_;
  return m;
}

std::optional<Match> HashSets::lookup(std::string_view md5, std::string_view sha1,
                                      std::string_view sha256) const {
  std::vector<Digest> tries;
  if (auto d = parse_digest(sha256, Algo::sha256)) tries.push_back(*d);
  if (auto d = parse_digest(sha1, Algo::sha1)) tries.push_back(*d);
  if (auto d = parse_digest(md5, Algo::md5)) tries.push_back(*d);
  for (auto& s : sets_)
    for (auto& d : tries)
      if (auto m = s->lookup(d)) return m;
  return std::nullopt;
}

}  // namespace safehold::hashset
