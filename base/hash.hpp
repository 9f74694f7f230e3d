// Hashing helpers for every module: MD5 (base/md5.hpp), SHA-1 and SHA-256 (OpenSSL EVP), fed once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace safehold::base {

enum class HashAlgo : unsigned { md5 = 1, sha1 = 2, sha256 = 4 };

struct Digests {
  std::string md5;  // lowercase hex, "" when not computed
  std::string sha1;
  std::string sha256;
};

// Computes any subset of MD5/SHA-1/SHA-256 over data given in pieces. Not thread-safe; use one
// per stream. finish() may be called once.
class MultiHasher {
 public:
  explicit MultiHasher(unsigned algos = 7);  // bit set of HashAlgo
  ~MultiHasher();
  MultiHasher(MultiHasher&&) noexcept;
  MultiHasher& operator=(MultiHasher&&) noexcept;
  void update(const void* data, size_t len);
  void update(std::span<const std::byte> data) { update(data.data(), data.size()); }
  Digests finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digests hash_bytes(std::span<const std::byte> data, unsigned algos = 7);
Digests hash_file(const std::filesystem::path& path, unsigned algos = 7);  // throws on I/O error
std::string to_hex(const unsigned char* data, size_t len);
// Lowercase hex SHA-256 of a string (audit chains, token digests, stable identifiers).
std::string sha256_hex(std::string_view text);

}  // namespace safehold::base
