// Compression of EWF chunks into zlib streams (RFC 1950), one compressor per thread.
// Measured on 32 KiB chunks (docs/BENCHMARKS.md): ISA-L igzip level 1 is about twice as fast as
// libdeflate level 1 at a similar ratio, so `fast` uses ISA-L; `best` uses libdeflate level 9.
// Uniform chunks (zeros, 0xFF fill) skip the compressor; a chunk whose first 4 KiB look random
// (order-0 entropy of 7.6 bits per byte or more) is stored as is.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "acquire/acquire.hpp"

namespace safehold::acquire {

struct CompressedChunk {
  bool compressed = false;  // false: stored raw, `checksum` is its Adler-32
  uint32_t checksum = 0;
  std::vector<unsigned char> bytes;  // the zlib stream, or empty for a stored chunk
};

class ChunkCompressor {
 public:
  explicit ChunkCompressor(Compression level);
  ~ChunkCompressor();
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;
  // Fills out for `data` (one chunk); out.bytes' capacity is reused.
  void compress(std::span<const std::byte> data, CompressedChunk& out);

 private:
  size_t deflate_into(const unsigned char* in, size_t len, unsigned char* out, size_t cap);
  Compression level_;
  std::vector<unsigned char> isal_level_buf_;
  struct LdFree {
    void operator()(void* c) const;
  };
  std::unique_ptr<void, LdFree> ld_;
  // Compressed form of a uniform chunk of each byte value, per chunk length (lazily filled).
  std::array<std::vector<unsigned char>, 256> uniform_;
  std::array<size_t, 256> uniform_len_{};
};

uint32_t adler32_of(std::span<const std::byte> data);

}  // namespace safehold::acquire
