#include "acquire/compress.hpp"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>

#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace safehold::acquire {

namespace {
constexpr size_t kSample = 4096;
// A sample with at least this many bits of order-0 entropy per byte marks the chunk
// incompressible: 4 KiB of random data measure about 7.95 (encrypted data, JPEG and ZIP contents
// 7.9 and more), text about 4.5. Counting bytes costs a tenth of compressing the sample, which
// is what this check did before (docs/BENCHMARKS.md).
constexpr double kIncompressibleBits = 7.6;

double entropy_bits(const unsigned char* p, size_t n) {
  static const std::array<double, kSample + 1> c_log_c = [] {
    std::array<double, kSample + 1> t{};
    for (size_t c = 1; c <= kSample; ++c)
      t[c] = static_cast<double>(c) * std::log2(static_cast<double>(c));
    return t;
  }();
  uint32_t count[256] = {};
  for (size_t i = 0; i < n; ++i) ++count[p[i]];
  double sum = 0;
  for (uint32_t c : count) sum += c_log_c[c];
  return std::log2(static_cast<double>(n)) - sum / static_cast<double>(n);
}

bool is_uniform(const unsigned char* p, size_t n) {
  return n == 0 || (p[0] == p[n - 1] && std::memcmp(p, p + 1, n - 1) == 0);
}
}  // namespace

uint32_t adler32_of(std::span<const std::byte> data) {
  // ISA-L's AVX2 Adler-32: several times zlib's speed (stored chunks of random data need it).
  return isal_adler32(1, reinterpret_cast<const unsigned char*>(data.data()), data.size());
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

size_t ChunkCompressor::deflate_into(const unsigned char* in, size_t len, unsigned char* out,
                                     size_t cap) {
  if (level_ == Compression::best)
    return libdeflate_zlib_compress(static_cast<libdeflate_compressor*>(ld_.get()), in, len, out,
                                    cap);
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
  if (n > 4 * kSample && entropy_bits(p, kSample) >= kIncompressibleBits) {
    out.checksum = adler32_of(data);
    return;
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

}  // namespace safehold::acquire
