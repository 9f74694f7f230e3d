// MD5 (RFC 1321) in portable C++, scheduled for latency: MD5 is one long dependency chain, and
// this ordering takes about one operation off every round-2 step compared with OpenSSL's
// assembly (see docs/BENCHMARKS.md). Its running state can be saved and restored, for resume
// checkpoints.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace safehold::base {

class Md5 {
 public:
  static constexpr size_t kDigestSize = 16;
  Md5() { reset(); }
  void reset();
  void update(const void* data, size_t len);
  void update(std::span<const std::byte> data) { update(data.data(), data.size()); }
  std::array<unsigned char, kDigestSize> finish();  // then reset() before reuse
  uint64_t length() const { return length_; }       // bytes fed so far

  // The running state as "md5v1:" + hex of the four words, the byte count and the buffered
  // bytes. restore() also takes the hex of an OpenSSL MD5_CTX (x86-64/aarch64 layout), which
  // Safehold's checkpoints held before; it returns false for anything else.
  std::string save() const;
  bool restore(const std::string& text);

 private:
  uint32_t h_[4];
  uint64_t length_;
  unsigned char buf_[64];
};

// The compression function over n whole 64-byte blocks (exposed for the benchmark and tests).
void md5_blocks(uint32_t state[4], const unsigned char* data, size_t n);

}  // namespace safehold::base
