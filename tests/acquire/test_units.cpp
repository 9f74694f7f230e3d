// Unit tests of acquire/ internals: chunk compression and resumable digests.
#include "acquire/compress.hpp"
#include "acquire/hash_state.hpp"

#include <catch2/catch.hpp>
#include <libdeflate.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace vigil::acquire;

namespace {
std::vector<std::byte> inflate(const CompressedChunk& c, size_t size) {
  std::vector<std::byte> out(size);
  auto* d = libdeflate_alloc_decompressor();
  size_t actual = 0;
  auto r = libdeflate_zlib_decompress(d, c.bytes.data(), c.bytes.size(), out.data(), size, &actual);
  libdeflate_free_decompressor(d);
  REQUIRE(r == LIBDEFLATE_SUCCESS);
  REQUIRE(actual == size);
  return out;
}
}  // namespace

TEST_CASE("chunk compressor: zlib streams that inflate back, stored chunks with Adler-32", "[acquire]") {
  const size_t n = 32768;
  std::vector<std::byte> zeros(n), ff(n, std::byte{0xff}), text(n), noise(n);
  std::string line = "evidence bag 44 sealed at 10:32, exhibit DE/1\n";
  for (size_t i = 0; i < n; ++i) text[i] = static_cast<std::byte>(line[i % line.size()]);
  std::mt19937 g(3);
  for (auto& b : noise) b = static_cast<std::byte>(g());
  for (auto level : {Compression::fast, Compression::best}) {
    ChunkCompressor c(level);
    CompressedChunk out;
    for (auto* data : {&zeros, &ff, &text, &zeros}) {
      c.compress(*data, out);
      REQUIRE(out.compressed);
      CHECK(out.bytes.size() < n / 10);
      CHECK(inflate(out, n) == *data);
    }
    c.compress(noise, out);
    CHECK_FALSE(out.compressed);
    CHECK(out.checksum == adler32_of(noise));
    // A short last chunk.
    std::span<const std::byte> tail(text.data(), 1000);
    c.compress(tail, out);
    REQUIRE(out.compressed);
    CHECK(inflate(out, 1000) == std::vector<std::byte>(tail.begin(), tail.end()));
  }
  ChunkCompressor none(Compression::none);
  CompressedChunk out;
  none.compress(text, out);
  CHECK_FALSE(out.compressed);
  CHECK(out.checksum == adler32_of(text));
}

TEST_CASE("resumable digests: a saved and restored state gives the same digest", "[acquire]") {
  std::string a(100000, 'a'), b = "the rest of the data";
  for (auto algo : {vigil::fs::HashAlgo::md5, vigil::fs::HashAlgo::sha1, vigil::fs::HashAlgo::sha256}) {
    ResumableDigest whole(algo);
    whole.update(a.data(), a.size());
    std::string state = whole.save();
    whole.update(b.data(), b.size());
    ResumableDigest resumed(algo);
    REQUIRE(resumed.restore(state));
    CHECK_FALSE(resumed.restore("zz"));
    resumed.update(b.data(), b.size());
    std::string all = a + b;
    auto expect = vigil::fs::hash_bytes(std::as_bytes(std::span(all.data(), all.size())), static_cast<unsigned>(algo));
    std::string want = algo == vigil::fs::HashAlgo::md5 ? expect.md5 : algo == vigil::fs::HashAlgo::sha1 ? expect.sha1 : expect.sha256;
    CHECK(whole.finish() == want);
    CHECK(resumed.finish() == want);
  }
  CHECK(vigil::fs::hash_bytes(std::as_bytes(std::span("abc", 3)), 1).md5 == "900150983cd24fb0d6963f7d28e17f72");
}
