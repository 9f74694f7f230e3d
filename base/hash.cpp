#include "base/hash.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "base/md5.hpp"

namespace safehold::base {

namespace {
using CtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

CtxPtr make_ctx(const EVP_MD* md) {
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1)
    throw std::runtime_error("cannot initialise OpenSSL digest");
  return ctx;
}

std::string finish_ctx(EVP_MD_CTX* ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md.data(), &len);
  return to_hex(md.data(), len);
}
}  // namespace

struct MultiHasher::Impl {
  std::optional<Md5> md5;  // base::Md5 is faster than OpenSSL's MD5 (bench/md5_speed.cpp)
  CtxPtr sha1{nullptr, &EVP_MD_CTX_free};
  CtxPtr sha256{nullptr, &EVP_MD_CTX_free};
};

MultiHasher::MultiHasher(unsigned algos) : impl_(std::make_unique<Impl>()) {
  if (algos & static_cast<unsigned>(HashAlgo::md5)) impl_->md5.emplace();
  if (algos & static_cast<unsigned>(HashAlgo::sha1)) impl_->sha1 = make_ctx(EVP_sha1());
  if (algos & static_cast<unsigned>(HashAlgo::sha256)) impl_->sha256 = make_ctx(EVP_sha256());
}
MultiHasher::~MultiHasher() = default;
MultiHasher::MultiHasher(MultiHasher&&) noexcept = default;
MultiHasher& MultiHasher::operator=(MultiHasher&&) noexcept = default;

void MultiHasher::update(const void* data, size_t len) {
  if (impl_->md5) impl_->md5->update(data, len);
  if (impl_->sha1) EVP_DigestUpdate(impl_->sha1.get(), data, len);
  if (impl_->sha256) EVP_DigestUpdate(impl_->sha256.get(), data, len);
}

Digests MultiHasher::finish() {
  Digests d;
  if (impl_->md5) {
    auto md = impl_->md5->finish();
    d.md5 = to_hex(md.data(), md.size());
  }
  if (impl_->sha1) d.sha1 = finish_ctx(impl_->sha1.get());
  if (impl_->sha256) d.sha256 = finish_ctx(impl_->sha256.get());
  return d;
}

Digests hash_bytes(std::span<const std::byte> data, unsigned algos) {
  MultiHasher h(algos);
  h.update(data);
  return h.finish();
}

Digests hash_file(const std::filesystem::path& path, unsigned algos) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path.string() + ": cannot open: " + std::strerror(errno));
  MultiHasher h(algos);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw std::runtime_error(path.string() + ": read failed: " + std::strerror(e));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return h.finish();
}

std::string to_hex(const unsigned char* data, size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string s(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = digits[data[i] >> 4];
    s[2 * i + 1] = digits[data[i] & 15];
  }
  return s;
}

}  // namespace safehold::base

namespace safehold::base {

std::string sha256_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("cannot compute SHA-256 (OpenSSL digest failed)");
  return to_hex(md, len);
}

}  // namespace safehold::base
