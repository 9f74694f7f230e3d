// Unit tests of acquire/ internals: chunk compression, resumable digests, O_DIRECT source reads.
#include <libdeflate.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "acquire/compress.hpp"
#include "acquire/hash_state.hpp"
#include "acquire/log.hpp"
#include "acquire/source.hpp"
#include "base/hash.hpp"
#include "tests/common/support.hpp"

using namespace safehold::acquire;

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

TEST_CASE("chunk compressor: zlib streams that inflate back, stored chunks with Adler-32",
          "[acquire]") {
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

TEST_CASE(
    "chunk compressor: Adler-32 equals zlib's, random-looking chunks are stored, half-random ones "
    "compressed",
    "[acquire]") {
  std::mt19937 g(9);
  std::vector<std::byte> data(70000);
  for (auto& b : data) b = static_cast<std::byte>(g());
  for (size_t len :
       {0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 1000, 4096, 5552, 5553, 32768, 65536, 70000}) {
    uLong want = adler32(adler32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()),
                         static_cast<uInt>(len));
    CHECK(adler32_of(std::span<const std::byte>(data.data(), len)) == static_cast<uint32_t>(want));
  }
  // Random bytes restricted to 64 values (6 bits of entropy a byte) still shrink: compressed.
  std::vector<std::byte> six(32768);
  for (auto& b : six) b = static_cast<std::byte>(g() % 64);
  // Text first and random after: the first 4 KiB decide, and the stream is still correct.
  std::vector<std::byte> mixed(32768);
  for (size_t i = 0; i < mixed.size(); ++i)
    mixed[i] = i < 16384 ? static_cast<std::byte>("abc de"[i % 6]) : data[i];
  for (auto level : {Compression::fast, Compression::best}) {
    ChunkCompressor c(level);
    CompressedChunk out;
    c.compress(six, out);
    REQUIRE(out.compressed);
    CHECK(out.bytes.size() < six.size());
    CHECK(inflate(out, six.size()) == six);
    c.compress(mixed, out);
    REQUIRE(out.compressed);
    CHECK(inflate(out, mixed.size()) == mixed);
    c.compress(std::span<const std::byte>(data.data(), 32768), out);
    CHECK_FALSE(out.compressed);
    CHECK(out.checksum ==
          static_cast<uint32_t>(adler32(1, reinterpret_cast<const Bytef*>(data.data()), 32768)));
  }
}

TEST_CASE("resumable digests: a saved and restored state gives the same digest", "[acquire]") {
  std::string a(100000, 'a'), b = "the rest of the data";
  for (auto algo : {safehold::base::HashAlgo::md5, safehold::base::HashAlgo::sha1,
                    safehold::base::HashAlgo::sha256}) {
    ResumableDigest whole(algo);
    whole.update(a.data(), a.size());
    std::string state = whole.save();
    whole.update(b.data(), b.size());
    ResumableDigest resumed(algo);
    REQUIRE(resumed.restore(state));
    CHECK_FALSE(resumed.restore("zz"));
    resumed.update(b.data(), b.size());
    std::string all = a + b;
    auto expect = safehold::base::hash_bytes(std::as_bytes(std::span(all.data(), all.size())),
                                             static_cast<unsigned>(algo));
    std::string want = algo == safehold::base::HashAlgo::md5    ? expect.md5
                       : algo == safehold::base::HashAlgo::sha1 ? expect.sha1
                                                                : expect.sha256;
    CHECK(whole.finish() == want);
    CHECK(resumed.finish() == want);
  }
  CHECK(safehold::base::hash_bytes(std::as_bytes(std::span("abc", 3)), 1).md5 ==
        "900150983cd24fb0d6963f7d28e17f72");
}

TEST_CASE(
    "resumable digests: an MD5 checkpoint from before base::Md5 (an OpenSSL MD5_CTX) still resumes",
    "[acquire]") {
  // What a checkpoint of an acquisition started with an earlier Safehold holds for MD5 after the
  // 27 bytes "an interrupted acquisition." (the hex of OpenSSL's MD5_CTX on x86-64).
  std::string head = "an interrupted acquisition.", tail = " Resumed by a newer Safehold.";
  ResumableDigest fresh(safehold::base::HashAlgo::md5);
  fresh.update(head.data(), head.size());
  std::string now = fresh.save();
  CHECK(now.rfind("md5v1:", 0) == 0);
  // Build the old form by hand: A..D, Nl/Nh (bits), data[16] (the pending bytes), num.
  unsigned char ctx[92] = {};
  const uint32_t init[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::memcpy(ctx, init, 16);  // fewer than 64 bytes fed: the words are still the initial ones
  const uint32_t bits = static_cast<uint32_t>(head.size() * 8),
                 num = static_cast<uint32_t>(head.size());
  std::memcpy(ctx + 16, &bits, 4);
  std::memcpy(ctx + 24, head.data(), head.size());
  std::memcpy(ctx + 88, &num, 4);
  std::string old = safehold::base::to_hex(ctx, sizeof ctx);
  ResumableDigest resumed(safehold::base::HashAlgo::md5);
  REQUIRE(resumed.restore(old));
  resumed.update(tail.data(), tail.size());
  std::string all = head + tail;
  CHECK(resumed.finish() ==
        safehold::base::hash_bytes(std::as_bytes(std::span(all.data(), all.size())), 1).md5);
  ResumableDigest sha(safehold::base::HashAlgo::sha1);
  CHECK_FALSE(sha.restore(now));  // an MD5 state is not a SHA-1 state
}

TEST_CASE("source: O_DIRECT reads equal page-cache reads at any offset, length and buffer address",
          "[acquire]") {
  safehold::test::TempDir t("safehold-direct");
  // 3 MiB + 1234 bytes: not a whole number of sectors (padded to 3 MiB + 1536) nor of 4096-byte
  // O_DIRECT blocks.
  const size_t size = (3u << 20) + 1234;
  {
    std::mt19937 g(11);
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i % 3 ? g() : i / 7);
    std::ofstream(t / "src.raw", std::ios::binary)
        .write(data.data(), static_cast<std::streamsize>(size));
  }
  Log log;
  Source buffered((t / "src.raw").string(), log, false, false);
  Source direct((t / "src.raw").string(), log, true, true);
  CHECK(!buffered.direct());
  if (!direct.direct()) {
    WARN("skipped: this filesystem does not allow O_DIRECT");
    return;
  }
  CHECK(direct.direct_alignment() == 4096);
  REQUIRE(direct.size() == (3u << 20) + 1536);
  REQUIRE(buffered.size() == direct.size());
  const uint64_t n = direct.size();
  struct FreeBuf {
    void operator()(std::byte* p) const { std::free(p); }
  };
  auto aligned = [](size_t bytes) {
    void* p = nullptr;
    REQUIRE(posix_memalign(&p, 4096, bytes) == 0);
    return std::unique_ptr<std::byte, FreeBuf>(static_cast<std::byte*>(p));
  };
  const size_t cap = n + 8192;
  auto a = aligned(cap), b = aligned(cap);
  struct Case {
    uint64_t off;
    size_t len, misalign;
  };
  std::vector<Case> cases{{0, n, 0},           {0, 1u << 20, 0},    {4096, 8192, 0},
                          {512, 512, 0},       {1000, 5000, 1},     {4095, 2, 3},
                          {n - 1536, 1536, 0}, {n - 4096, 4096, 0}, {n - 512, 1024, 0},
                          {n - 100, 100, 7},   {n, 512, 0},         {size - 10, 300, 0}};
  std::mt19937_64 g(5);
  for (int i = 0; i < 300; ++i) {
    uint64_t off = g() % n;
    size_t len = 1 + g() % std::min<uint64_t>(n - off + 600, 300000);
    cases.push_back({i % 2 ? off : off / 512 * 512, i % 3 ? len : (len + 511) / 512 * 512,
                     i % 4 ? 0u : 1 + g() % 511});
  }
  for (auto& c : cases) {
    INFO("offset " << c.off << " length " << c.len << " misaligned by " << c.misalign);
    std::memset(a.get(), 0xAA, cap);
    std::memset(b.get(), 0x55, cap);
    long long rb = buffered.read_at(c.off, std::span<std::byte>(a.get() + c.misalign, c.len));
    long long rd = direct.read_at(c.off, std::span<std::byte>(b.get() + c.misalign, c.len));
    REQUIRE(rd == rb);
    REQUIRE(rd >= 0);
    CHECK(std::memcmp(a.get() + c.misalign, b.get() + c.misalign, static_cast<size_t>(rd)) == 0);
  }
  CHECK(direct.direct());  // no read fell back to the page cache
}
