// base::Md5 against RFC 1321's test suite and OpenSSL, and its saved states (resume checkpoints).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/md5.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/hash.hpp"
#include "base/md5.hpp"

using safehold::base::Md5;

namespace {

std::string hex_md5(const void* p, size_t n) {
  Md5 m;
  m.update(p, n);
  auto d = m.finish();
  return safehold::base::to_hex(d.data(), d.size());
}

std::string openssl_md5(const void* p, size_t n) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  REQUIRE(EVP_Digest(p, n, d, &len, EVP_md5(), nullptr) == 1);
  return safehold::base::to_hex(d, len);
}

std::vector<unsigned char> random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& c : v) c = static_cast<unsigned char>(rng());
  return v;
}

}  // namespace

TEST_CASE("md5: RFC 1321 test suite", "[fs][md5]") {
  const std::pair<std::string, std::string> suite[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (auto& [in, want] : suite) {
    CHECK(hex_md5(in.data(), in.size()) == want);
    CHECK(safehold::base::hash_bytes(std::as_bytes(std::span(in.data(), in.size())), 1).md5 ==
          want);
  }
}

TEST_CASE("md5: equals OpenSSL on random data of every length around the block and padding edges",
          "[fs][md5]") {
  auto data = random_bytes(70000, 1);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; ++n) lengths.push_back(n);
  for (size_t n : {511, 512, 513, 1000, 4095, 4096, 4097, 32768, 65535, 65536, 65537, 69999, 70000})
    lengths.push_back(n);
  for (size_t n : lengths) {
    INFO("length " << n);
    CHECK(hex_md5(data.data(), n) == openssl_md5(data.data(), n));
  }
}

TEST_CASE("md5: any split of the input into updates gives the same digest", "[fs][md5]") {
  auto data = random_bytes(20000, 2);
  const std::string want = openssl_md5(data.data(), data.size());
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    Md5 m;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(data.size() - pos, rng() % (round < 25 ? 70 : 3000));
      m.update(data.data() + pos, n);
      pos += n;
    }
    auto d = m.finish();
    CHECK(safehold::base::to_hex(d.data(), d.size()) == want);
  }
}

TEST_CASE("md5: a saved state restores at any offset, also with buffered bytes", "[fs][md5]") {
  auto data = random_bytes(5000, 4);
  const std::string want = openssl_md5(data.data(), data.size());
  for (size_t cut : {0, 1, 55, 56, 63, 64, 65, 127, 128, 4000, 4999, 5000}) {
    INFO("cut at " << cut);
    Md5 first;
    first.update(data.data(), cut);
    std::string state = first.save();
    CHECK(state.rfind("md5v1:", 0) == 0);
    Md5 second;
    second.update("unrelated", 9);
    REQUIRE(second.restore(state));
    CHECK(second.length() == cut);
    second.update(data.data() + cut, data.size() - cut);
    auto d = second.finish();
    CHECK(safehold::base::to_hex(d.data(), d.size()) == want);
  }
}

TEST_CASE("md5: checkpoints holding an OpenSSL MD5_CTX (earlier Safehold versions) still restore",
          "[fs][md5]") {
  auto data = random_bytes(3000, 5);
  const std::string want = openssl_md5(data.data(), data.size());
  for (size_t cut : {0, 10, 64, 1000, 2048, 2999}) {
    INFO("cut at " << cut);
    MD5_CTX ctx;
    MD5_Init(&ctx);
    MD5_Update(&ctx, data.data(), cut);
    // What acquire/hash_state.cpp wrote before base::Md5: the hex of the struct's bytes.
    std::string old =
        safehold::base::to_hex(reinterpret_cast<const unsigned char*>(&ctx), sizeof ctx);
    Md5 m;
    REQUIRE(m.restore(old));
    m.update(data.data() + cut, data.size() - cut);
    auto d = m.finish();
    CHECK(safehold::base::to_hex(d.data(), d.size()) == want);
  }
}

TEST_CASE("md5: states that do not fit are refused and leave the digest untouched", "[fs][md5]") {
  Md5 m;
  m.update("abc", 3);
  const std::string good = m.save();
  for (const std::string& bad :
       {std::string(), std::string("zz"), std::string("md5v1:"), std::string("md5v1:0g"),
        good.substr(0, good.size() - 2),  // one buffered byte short
        good + "00", std::string(184, 'f'), std::string(183, '0')})
    CHECK_FALSE(m.restore(bad));
  auto d = m.finish();
  CHECK(safehold::base::to_hex(d.data(), d.size()) == "900150983cd24fb0d6963f7d28e17f72");
}
