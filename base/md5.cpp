#include "base/md5.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/hash.hpp"

namespace safehold::base {

namespace {

inline uint32_t rol(uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}

inline uint32_t load_le(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline void store_le(unsigned char* p, uint32_t v) {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
  p[2] = static_cast<unsigned char>(v >> 16);
  p[3] = static_cast<unsigned char>(v >> 24);
}

// Each step: a = rol(a + f(b, c, d) + M[k] + K, s) + b, where b is the value the previous step
// produced (the critical path). Everything that does not need b is added into a first.
// Round 1: F = d ^ (b & (c ^ d)): c ^ d is ready before b.
#define SAFEHOLD_MD5_R1(a, b, c, d, k, s, t) \
  do {                                       \
    a += X[k] + (t);                         \
    a += d ^ (b & (c ^ d));                  \
    a = rol(a, s) + b;                       \
  } while (0)
// Round 2: G = (b & d) | (c & ~d) = (b & d) + (c & ~d) (the two never share a bit), so
// c & ~d joins M + K off the critical path and only one AND and one ADD wait for b.
#define SAFEHOLD_MD5_R2(a, b, c, d, k, s, t) \
  do {                                       \
    a += X[k] + (t) + (c & ~d);              \
    a += b & d;                              \
    a = rol(a, s) + b;                       \
  } while (0)
// Round 3: H = (c ^ d) ^ b: c ^ d is ready before b.
#define SAFEHOLD_MD5_R3(a, b, c, d, k, s, t) \
  do {                                       \
    a += X[k] + (t);                         \
    a += (c ^ d) ^ b;                        \
    a = rol(a, s) + b;                       \
  } while (0)
// Round 4: I = c ^ (b | ~d): ~d is ready before b.
#define SAFEHOLD_MD5_R4(a, b, c, d, k, s, t) \
  do {                                       \
    a += X[k] + (t);                         \
    a += c ^ (b | ~d);                       \
    a = rol(a, s) + b;                       \
  } while (0)

}  // namespace

void md5_blocks(uint32_t st[4], const unsigned char* p, size_t n) {
  uint32_t A = st[0], B = st[1], C = st[2], D = st[3];
  for (; n; --n, p += 64) {
    uint32_t X[16];
    for (int i = 0; i < 16; ++i) X[i] = load_le(p + 4 * i);
    uint32_t a = A, b = B, c = C, d = D;
    SAFEHOLD_MD5_R1(a, b, c, d, 0, 7, 0xd76aa478);
    SAFEHOLD_MD5_R1(d, a, b, c, 1, 12, 0xe8c7b756);
    SAFEHOLD_MD5_R1(c, d, a, b, 2, 17, 0x242070db);
    SAFEHOLD_MD5_R1(b, c, d, a, 3, 22, 0xc1bdceee);
    SAFEHOLD_MD5_R1(a, b, c, d, 4, 7, 0xf57c0faf);
    SAFEHOLD_MD5_R1(d, a, b, c, 5, 12, 0x4787c62a);
    SAFEHOLD_MD5_R1(c, d, a, b, 6, 17, 0xa8304613);
    SAFEHOLD_MD5_R1(b, c, d, a, 7, 22, 0xfd469501);
    SAFEHOLD_MD5_R1(a, b, c, d, 8, 7, 0x698098d8);
    SAFEHOLD_MD5_R1(d, a, b, c, 9, 12, 0x8b44f7af);
    SAFEHOLD_MD5_R1(c, d, a, b, 10, 17, 0xffff5bb1);
    SAFEHOLD_MD5_R1(b, c, d, a, 11, 22, 0x895cd7be);
    SAFEHOLD_MD5_R1(a, b, c, d, 12, 7, 0x6b901122);
    SAFEHOLD_MD5_R1(d, a, b, c, 13, 12, 0xfd987193);
    SAFEHOLD_MD5_R1(c, d, a, b, 14, 17, 0xa679438e);
    SAFEHOLD_MD5_R1(b, c, d, a, 15, 22, 0x49b40821);
    SAFEHOLD_MD5_R2(a, b, c, d, 1, 5, 0xf61e2562);
    SAFEHOLD_MD5_R2(d, a, b, c, 6, 9, 0xc040b340);
    SAFEHOLD_MD5_R2(c, d, a, b, 11, 14, 0x265e5a51);
    SAFEHOLD_MD5_R2(b, c, d, a, 0, 20, 0xe9b6c7aa);
    SAFEHOLD_MD5_R2(a, b, c, d, 5, 5, 0xd62f105d);
    SAFEHOLD_MD5_R2(d, a, b, c, 10, 9, 0x02441453);
    SAFEHOLD_MD5_R2(c, d, a, b, 15, 14, 0xd8a1e681);
    SAFEHOLD_MD5_R2(b, c, d, a, 4, 20, 0xe7d3fbc8);
    SAFEHOLD_MD5_R2(a, b, c, d, 9, 5, 0x21e1cde6);
    SAFEHOLD_MD5_R2(d, a, b, c, 14, 9, 0xc33707d6);
    SAFEHOLD_MD5_R2(c, d, a, b, 3, 14, 0xf4d50d87);
    SAFEHOLD_MD5_R2(b, c, d, a, 8, 20, 0x455a14ed);
    SAFEHOLD_MD5_R2(a, b, c, d, 13, 5, 0xa9e3e905);
    SAFEHOLD_MD5_R2(d, a, b, c, 2, 9, 0xfcefa3f8);
    SAFEHOLD_MD5_R2(c, d, a, b, 7, 14, 0x676f02d9);
    SAFEHOLD_MD5_R2(b, c, d, a, 12, 20, 0x8d2a4c8a);
    SAFEHOLD_MD5_R3(a, b, c, d, 5, 4, 0xfffa3942);
    SAFEHOLD_MD5_R3(d, a, b, c, 8, 11, 0x8771f681);
    SAFEHOLD_MD5_R3(c, d, a, b, 11, 16, 0x6d9d6122);
    SAFEHOLD_MD5_R3(b, c, d, a, 14, 23, 0xfde5380c);
    SAFEHOLD_MD5_R3(a, b, c, d, 1, 4, 0xa4beea44);
    SAFEHOLD_MD5_R3(d, a, b, c, 4, 11, 0x4bdecfa9);
    SAFEHOLD_MD5_R3(c, d, a, b, 7, 16, 0xf6bb4b60);
    SAFEHOLD_MD5_R3(b, c, d, a, 10, 23, 0xbebfbc70);
    SAFEHOLD_MD5_R3(a, b, c, d, 13, 4, 0x289b7ec6);
    SAFEHOLD_MD5_R3(d, a, b, c, 0, 11, 0xeaa127fa);
    SAFEHOLD_MD5_R3(c, d, a, b, 3, 16, 0xd4ef3085);
    SAFEHOLD_MD5_R3(b, c, d, a, 6, 23, 0x04881d05);
    SAFEHOLD_MD5_R3(a, b, c, d, 9, 4, 0xd9d4d039);
    SAFEHOLD_MD5_R3(d, a, b, c, 12, 11, 0xe6db99e5);
    SAFEHOLD_MD5_R3(c, d, a, b, 15, 16, 0x1fa27cf8);
    SAFEHOLD_MD5_R3(b, c, d, a, 2, 23, 0xc4ac5665);
    SAFEHOLD_MD5_R4(a, b, c, d, 0, 6, 0xf4292244);
    SAFEHOLD_MD5_R4(d, a, b, c, 7, 10, 0x432aff97);
    SAFEHOLD_MD5_R4(c, d, a, b, 14, 15, 0xab9423a7);
    SAFEHOLD_MD5_R4(b, c, d, a, 5, 21, 0xfc93a039);
    SAFEHOLD_MD5_R4(a, b, c, d, 12, 6, 0x655b59c3);
    SAFEHOLD_MD5_R4(d, a, b, c, 3, 10, 0x8f0ccc92);
    SAFEHOLD_MD5_R4(c, d, a, b, 10, 15, 0xffeff47d);
    SAFEHOLD_MD5_R4(b, c, d, a, 1, 21, 0x85845dd1);
    SAFEHOLD_MD5_R4(a, b, c, d, 8, 6, 0x6fa87e4f);
    SAFEHOLD_MD5_R4(d, a, b, c, 15, 10, 0xfe2ce6e0);
    SAFEHOLD_MD5_R4(c, d, a, b, 6, 15, 0xa3014314);
    SAFEHOLD_MD5_R4(b, c, d, a, 13, 21, 0x4e0811a1);
    SAFEHOLD_MD5_R4(a, b, c, d, 4, 6, 0xf7537e82);
    SAFEHOLD_MD5_R4(d, a, b, c, 11, 10, 0xbd3af235);
    SAFEHOLD_MD5_R4(c, d, a, b, 2, 15, 0x2ad7d2bb);
    SAFEHOLD_MD5_R4(b, c, d, a, 9, 21, 0xeb86d391);
    A += a;
    B += b;
    C += c;
    D += d;
  }
  st[0] = A;
  st[1] = B;
  st[2] = C;
  st[3] = D;
}

#undef SAFEHOLD_MD5_R1
#undef SAFEHOLD_MD5_R2
#undef SAFEHOLD_MD5_R3
#undef SAFEHOLD_MD5_R4

void Md5::reset() {
  h_[0] = 0x67452301;
  h_[1] = 0xefcdab89;
  h_[2] = 0x98badcfe;
  h_[3] = 0x10325476;
  length_ = 0;
  std::memset(buf_, 0, sizeof buf_);
}

void Md5::update(const void* data, size_t len) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t have = static_cast<size_t>(length_ % 64);
  length_ += len;
  if (have) {
    size_t take = std::min(len, 64 - have);
    std::memcpy(buf_ + have, p, take);
    p += take;
    len -= take;
    if (have + take < 64) return;
    md5_blocks(h_, buf_, 1);
  }
  if (len >= 64) {
    md5_blocks(h_, p, len / 64);
    p += len / 64 * 64;
    len %= 64;
  }
  if (len) std::memcpy(buf_, p, len);
}

std::array<unsigned char, Md5::kDigestSize> Md5::finish() {
  const uint64_t bits = length_ * 8;
  size_t have = static_cast<size_t>(length_ % 64);
  buf_[have++] = 0x80;
  if (have > 56) {
    std::memset(buf_ + have, 0, 64 - have);
    md5_blocks(h_, buf_, 1);
    have = 0;
  }
  std::memset(buf_ + have, 0, 56 - have);
  store_le(buf_ + 56, static_cast<uint32_t>(bits));
  store_le(buf_ + 60, static_cast<uint32_t>(bits >> 32));
  md5_blocks(h_, buf_, 1);
  std::array<unsigned char, kDigestSize> out{};
  for (int i = 0; i < 4; ++i) store_le(out.data() + 4 * i, h_[i]);
  return out;
}

namespace {
constexpr const char* kTag = "md5v1:";
// OpenSSL's MD5_CTX: A, B, C, D, Nl, Nh (bit count), data[16] (MD5_LONG), num: 23 x 4 bytes.
constexpr size_t kOpensslCtxBytes = 23 * 4;

bool unhex(const std::string& h, size_t from, std::vector<unsigned char>& out) {
  if ((h.size() - from) % 2) return false;
  out.clear();
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = from; i < h.size(); i += 2) {
    int hi = nib(h[i]), lo = nib(h[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return true;
}
}  // namespace

std::string Md5::save() const {
  unsigned char b[16 + 8 + 64];
  for (int i = 0; i < 4; ++i) store_le(b + 4 * i, h_[i]);
  store_le(b + 16, static_cast<uint32_t>(length_));
  store_le(b + 20, static_cast<uint32_t>(length_ >> 32));
  const size_t have = static_cast<size_t>(length_ % 64);
  std::memcpy(b + 24, buf_, have);
  return kTag + to_hex(b, 24 + have);
}

bool Md5::restore(const std::string& text) {
  std::vector<unsigned char> b;
  uint32_t h[4];
  uint64_t length;
  const unsigned char* pending;
  if (text.rfind(kTag, 0) == 0) {
    if (!unhex(text, std::strlen(kTag), b) || b.size() < 24) return false;
    for (int i = 0; i < 4; ++i) h[i] = load_le(b.data() + 4 * i);
    length = load_le(b.data() + 16) | uint64_t{load_le(b.data() + 20)} << 32;
    if (b.size() != 24 + length % 64) return false;
    pending = b.data() + 24;
  } else {
    // A checkpoint written by an earlier Safehold (OpenSSL's MD5_CTX, little-endian fields).
    if (text.size() != 2 * kOpensslCtxBytes || !unhex(text, 0, b)) return false;
    for (int i = 0; i < 4; ++i) h[i] = load_le(b.data() + 4 * i);
    const uint64_t bits = load_le(b.data() + 16) | uint64_t{load_le(b.data() + 20)} << 32;
    const uint32_t num = load_le(b.data() + 22 * 4);
    if (bits % 8 || num >= 64 || (bits / 8) % 64 != num) return false;
    length = bits / 8;
    pending = b.data() + 24;  // data[] holds the buffered bytes in stream order
  }
  std::memcpy(h_, h, sizeof h_);
  length_ = length;
  std::memset(buf_, 0, sizeof buf_);
  std::memcpy(buf_, pending, static_cast<size_t>(length_ % 64));
  return true;
}

}  // namespace safehold::base
