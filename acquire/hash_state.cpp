#define OPENSSL_SUPPRESS_DEPRECATED
#include "acquire/hash_state.hpp"

#include <openssl/sha.h>

#include <cstring>
#include <vector>

#include "base/hash.hpp"
#include "base/md5.hpp"

namespace safehold::acquire {

struct ResumableDigest::Impl {
  base::Md5 md5;
  SHA_CTX sha1;
  SHA256_CTX sha256;
};

const char* hash_name(base::HashAlgo a) {
  switch (a) {
    case base::HashAlgo::md5:
      return "md5";
    case base::HashAlgo::sha1:
      return "sha1";
    case base::HashAlgo::sha256:
      return "sha256";
  }
  return "?";
}

ResumableDigest::ResumableDigest(base::HashAlgo algo)
    : algo_(algo), impl_(std::make_unique<Impl>()) {
  std::memset(&impl_->sha1, 0, sizeof(impl_->sha1));
  std::memset(&impl_->sha256, 0, sizeof(impl_->sha256));
  switch (algo_) {
    case base::HashAlgo::md5:
      break;  // base::Md5 starts initialised
    case base::HashAlgo::sha1:
      SHA1_Init(&impl_->sha1);
      break;
    case base::HashAlgo::sha256:
      SHA256_Init(&impl_->sha256);
      break;
  }
}
ResumableDigest::~ResumableDigest() = default;
ResumableDigest::ResumableDigest(ResumableDigest&&) noexcept = default;
ResumableDigest& ResumableDigest::operator=(ResumableDigest&&) noexcept = default;

void ResumableDigest::update(const void* data, size_t len) {
  switch (algo_) {
    case base::HashAlgo::md5:
      impl_->md5.update(data, len);
      break;
    case base::HashAlgo::sha1:
      SHA1_Update(&impl_->sha1, data, len);
      break;
    case base::HashAlgo::sha256:
      SHA256_Update(&impl_->sha256, data, len);
      break;
  }
}

namespace {
template <class T>
std::string hex_of(const T& v) {
  return base::to_hex(reinterpret_cast<const unsigned char*>(&v), sizeof(T));
}
template <class T>
bool from_hex(const std::string& h, T& v) {
  if (h.size() != 2 * sizeof(T)) return false;
  std::vector<unsigned char> b(sizeof(T));
  for (size_t i = 0; i < sizeof(T); ++i) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(h[2 * i]), lo = nib(h[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    b[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  std::memcpy(&v, b.data(), sizeof(T));
  return true;
}
}  // namespace

std::string ResumableDigest::save() const {
  switch (algo_) {
    case base::HashAlgo::md5:
      return impl_->md5.save();
    case base::HashAlgo::sha1:
      return hex_of(impl_->sha1);
    case base::HashAlgo::sha256:
      return hex_of(impl_->sha256);
  }
  return "";
}

bool ResumableDigest::restore(const std::string& hex) {
  switch (algo_) {
    case base::HashAlgo::md5:
      return impl_->md5.restore(hex);  // also an older OpenSSL MD5_CTX
    case base::HashAlgo::sha1:
      return from_hex(hex, impl_->sha1);
    case base::HashAlgo::sha256:
      return from_hex(hex, impl_->sha256);
  }
  return false;
}

std::string ResumableDigest::finish() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  switch (algo_) {
    case base::HashAlgo::md5: {
      auto d = impl_->md5.finish();
      return base::to_hex(d.data(), d.size());
    }
    case base::HashAlgo::sha1:
      SHA1_Final(md, &impl_->sha1);
      return base::to_hex(md, SHA_DIGEST_LENGTH);
    case base::HashAlgo::sha256:
      SHA256_Final(md, &impl_->sha256);
      return base::to_hex(md, SHA256_DIGEST_LENGTH);
  }
  return "";
}

}  // namespace safehold::acquire
