#include "acquire/salvage.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "acquire/compress.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;

namespace {

constexpr size_t kFileHeader = 13;        // EWF v1 file header
constexpr size_t kDescriptor = 76;        // EWF v1 section descriptor
constexpr size_t kDescriptorSummed = 72;  // bytes covered by its Adler-32

uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t le64(const unsigned char* p) {
  return static_cast<uint64_t>(le32(p)) | static_cast<uint64_t>(le32(p + 4)) << 32;
}

class Fd {
 public:
  explicit Fd(const std::string& p) : fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Reads up to n bytes at off; returns how many.
  size_t read(uint64_t off, unsigned char* out, size_t n) const {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

 private:
  int fd_;
};

// Where the chunks of the last chunk section start, when that section is unfinished or is the
// last thing in the file ("sectors", optionally followed by its "table" and "table2": libewf
// writes such a section again). 0 when the file ends otherwise (libewf continues after it).
uint64_t open_section_data(const Fd& f, uint64_t file_size) {
  uint64_t off = kFileHeader, sectors_data = 0;
  std::vector<std::string> after;  // sections after the last "sectors"
  unsigned char d[kDescriptor];
  for (int n = 0; n < 100000 && off + kDescriptor <= file_size; ++n) {
    if (f.read(off, d, kDescriptor) != kDescriptor) break;
    if (le32(d + kDescriptorSummed) != adler32(1, d, kDescriptorSummed)) break;
    std::string type(reinterpret_cast<const char*>(d),
                     strnlen(reinterpret_cast<const char*>(d), 16));
    if (type == "sectors") {
      sectors_data = off + kDescriptor;
      after.clear();
    } else if (sectors_data) {
      after.push_back(type);
    }
    const uint64_t next = le64(d + 16);
    if (next <= off || type == "done" || type == "next") break;
    off = next;
  }
  if (!sectors_data) return 0;
  for (auto& t : after)
    if (t != "table" && t != "table2") return 0;
  return sectors_data;
}

struct Decompressor {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  ~Decompressor() {
    if (d) libdeflate_free_decompressor(d);
  }
};

}  // namespace

uint64_t Salvage::end_offset(size_t n) const {
  return std::min<uint64_t>(media_size_, resume_at_ + static_cast<uint64_t>(n) * chunk_size_);
}

Salvage Salvage::scan(const fsys::path& base, uint64_t resume_at, uint64_t limit,
                      uint32_t chunk_size, uint64_t media_size) {
  Salvage s;
  s.resume_at_ = resume_at;
  s.chunk_size_ = chunk_size;
  s.media_size_ = media_size;
  auto segments = existing_segments(base);
  if (segments.empty() || limit <= resume_at) return s;
  s.file_ = segments.back().string();
  Fd f(s.file_);
  std::error_code ec;
  const uint64_t file_size = fsys::file_size(s.file_, ec);
  if (!f.ok() || ec) return s;
  uint64_t pos = open_section_data(f, file_size);
  if (pos == 0) return s;
  Decompressor dec;
  if (!dec.d) return s;
  std::vector<unsigned char> in(static_cast<size_t>(chunk_size) + 4), out(chunk_size);
  for (uint64_t media = resume_at; media < std::min(limit, media_size); media += chunk_size) {
    const size_t expect = static_cast<size_t>(std::min<uint64_t>(chunk_size, media_size - media));
    const size_t got = f.read(pos, in.data(), expect + 4);
    Chunk c;
    c.file_offset = pos;
    c.data_size = static_cast<uint32_t>(expect);
    size_t in_used = 0, out_len = 0;
    if (libdeflate_zlib_decompress_ex(dec.d, in.data(), got, out.data(), expect, &in_used,
                                      &out_len) == LIBDEFLATE_SUCCESS &&
        out_len == expect) {
      c.compressed = true;
      c.stored_size = static_cast<uint32_t>(in_used);
    } else if (got == expect + 4 &&
               le32(in.data() + expect) ==
                   adler32_of(std::span<const std::byte>(
                       reinterpret_cast<const std::byte*>(in.data()), expect))) {
      c.stored_size = static_cast<uint32_t>(expect + 4);
      c.checksum = le32(in.data() + expect);
    } else {
      break;  // where the interrupted run stopped writing
    }
    c.crc = static_cast<uint32_t>(crc32(0, in.data(), c.stored_size));
    s.chunks_.push_back(c);
    pos += c.stored_size;
  }
  return s;
}

size_t Salvage::replay(EwfWriter& w, size_t n) {
  Fd f(file_);
  if (!f.ok()) return 0;
  std::vector<unsigned char> buf(static_cast<size_t>(chunk_size_) + 4);
  n = std::min(n, chunks_.size());
  for (size_t i = 0; i < n; ++i) {
    const Chunk& c = chunks_[i];
    // libewf writes each chunk where it was, after it has been read here; a chunk that reads
    // differently now (the file was not laid out as expected) ends the salvage.
    if (f.read(c.file_offset, buf.data(), c.stored_size) != c.stored_size ||
        static_cast<uint32_t>(crc32(0, buf.data(), c.stored_size)) != c.crc)
      return i;
    w.write_stored(
        std::span<const unsigned char>(buf.data(), c.compressed ? c.stored_size : c.data_size),
        c.data_size, c.compressed, c.checksum);
  }
  return n;
}

}  // namespace safehold::acquire
