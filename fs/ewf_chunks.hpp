// Fast decoding of EWF chunks shared by the whole-image reader (fs/reader.cpp) and the image
// backend TSK reads through (fs/ewf_image.cpp): libewf gives the stored chunks, libdeflate inflates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vigil::fs::ewf {

bool all_zero(std::span<const std::byte> data);

// Remembers the stored (compressed) bytes of a chunk that inflated, with its Adler-32 verified, to
// all zeros. Inflating is a function of its input, so a later chunk stored with exactly the same
// bytes and of the same size holds zeros too and need not be inflated. Free space on real disks is
// mostly zero chunks, all compressed alike by the acquiring tool. Not thread-safe: one per thread.
class ZeroChunks {
 public:
  bool is_zero(std::span<const unsigned char> stored, uint32_t data_size) const {
    return !sig_.empty() && data_size == size_ && stored.size() == sig_.size() &&
           std::memcmp(stored.data(), sig_.data(), sig_.size()) == 0;
  }
  // Worth decoding a small compressed chunk at once to learn from it?
  bool want(size_t stored_size) const { return sig_.empty() && tries_ < 64 && stored_size <= 4096; }
  // `decoded` must be the verified output of inflating `stored`.
  void learn(std::span<const unsigned char> stored, std::span<const std::byte> decoded) {
    if (!want(stored.size())) return;
    ++tries_;
    if (!decoded.empty() && all_zero(decoded)) {
      sig_.assign(stored.begin(), stored.end());
      size_ = static_cast<uint32_t>(decoded.size());
    }
  }

 private:
  std::vector<unsigned char> sig_;
  uint32_t size_ = 0;
  int tries_ = 0;
};

}  // namespace vigil::fs::ewf
