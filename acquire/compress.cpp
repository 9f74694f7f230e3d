#include "acquire/compress.hpp"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zlib.h>

#include <cstring>
#include <stdexcept>

namespace vigil::acquire {

namespace {
constexpr size_t kSample = 4096;
// A sample whose zlib stream is at least this share of its size marks the chunk incompressible.
constexpr double kIncompressible = 0.97;

bool is_uniform(const unsigned char* p, size_t n) {
  return n == 0 || (p[0] == p[n - 1] && std::memcmp(p, p + 1, n - 1) == 0);
}
}  // namespace

uint32_t adler32_of(std::span<const std::byte> data) {
  uLong a = adler32(0L, Z_NULL, 0);
  const Bytef* p = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  while (left) {
    uInt n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    a = adler32(a, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(a);
}

void ChunkCompressor::LdFree::operator()(void* c) const {
  if (c) libdeflate_free_compressor(static_cast<libdeflate_compressor*>(c));
}

ChunkCompressor::ChunkCompressor(Compression level) : level_(level) {
  if (level_ == Compression::fast) {
    isal_level_buf_.resize(ISAL_DEF_LVL1_DEFAULT);
  } else if (level_ == Compression::best) {
    ld_.reset(libdeflate_alloc_compressor(9));
    if (!ld_) throw std::runtime_error("cannot allocate a libdeflate compressor");
  }
}

ChunkCompressor::~ChunkCompressor() = default;

size_t ChunkCompressor::deflate_into(const unsigned char* in, size_t len, unsigned char* out, size_t cap) {
  if (level_ == Compression::best)
    return libdeflate_zlib_compress(static_cast<libdeflate_compressor*>(ld_.get()), in, len, out, cap);
  isal_zstream s;
  isal_deflate_stateless_init(&s);
  s.level = 1;
  s.level_buf = isal_level_buf_.data();
  s.level_buf_size = static_cast<uint32_t>(isal_level_buf_.size());
  s.gzip_flag = IGZIP_ZLIB;
  s.next_in = const_cast<unsigned char*>(in);
  s.avail_in = static_cast<uint32_t>(len);
  s.next_out = out;
  s.avail_out = static_cast<uint32_t>(cap);
  s.end_of_stream = 1;
  s.flush = NO_FLUSH;
  if (isal_deflate_stateless(&s) != COMP_OK) return 0;  // did not fit: not worth compressing
  return s.total_out;
}

void ChunkCompressor::compress(std::span<const std::byte> data, CompressedChunk& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  out.compressed = false;
  out.bytes.clear();
  if (level_ == Compression::none) {
    out.checksum = adler32_of(data);
    return;
  }
  if (is_uniform(p, n)) {
    unsigned v = n ? p[0] : 0;
    if (uniform_len_[v] != n || uniform_[v].empty()) {
      std::vector<unsigned char> buf(n + 1024);
      size_t len = deflate_into(p, n, buf.data(), buf.size());
      buf.resize(len);
      uniform_[v] = std::move(buf);
      uniform_len_[v] = n;
    }
    if (!uniform_[v].empty() && uniform_[v].size() < n) {
      out.compressed = true;
      out.bytes = uniform_[v];
      return;
    }
  }
  // Early detection of incompressible data (encrypted, already compressed media).
  if (n > 4 * kSample) {
    sample_.resize(kSample + 1024);
    size_t len = deflate_into(p, kSample, sample_.data(), sample_.size());
    if (len == 0 || static_cast<double>(len) >= kIncompressible * kSample) {
      out.checksum = adler32_of(data);
      return;
    }
  }
  out.bytes.resize(n);  // a stream that does not fit in less than the chunk is not kept
  size_t len = deflate_into(p, n, out.bytes.data(), n - 1);
  if (len == 0 || len >= n) {
    out.bytes.clear();
    out.checksum = adler32_of(data);
    return;
  }
  out.bytes.resize(len);
  out.compressed = true;
}

}  // namespace vigil::acquire
