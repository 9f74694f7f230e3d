// One digest whose running state can be saved and restored, so that `--resume` continues the
// hashes of an interrupted acquisition instead of re-reading everything before the resume point.
// MD5 is base::Md5 (faster than OpenSSL's; its state is saved as "md5v1:...", and checkpoints
// holding an OpenSSL MD5_CTX from earlier versions still restore). SHA-1/SHA-256 use OpenSSL's
// struct API (same assembly as EVP) because EVP contexts cannot be saved.
#pragma once

#include <memory>
#include <string>

#include "base/hash.hpp"

namespace safehold::acquire {

class ResumableDigest {
 public:
  explicit ResumableDigest(base::HashAlgo algo);
  ~ResumableDigest();
  ResumableDigest(ResumableDigest&&) noexcept;
  ResumableDigest& operator=(ResumableDigest&&) noexcept;
  base::HashAlgo algo() const { return algo_; }
  void update(const void* data, size_t len);
  std::string save() const;              // the running state as hex
  bool restore(const std::string& hex);  // false when it does not fit this algorithm
  std::string finish();                  // lowercase hex digest

 private:
  base::HashAlgo algo_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

const char* hash_name(base::HashAlgo a);  // "md5", "sha1", "sha256"

}  // namespace safehold::acquire
