// Fast decoding of EWF chunks shared by the whole-image reader (fs/reader.cpp) and the image
// backend TSK reads through (fs/ewf_image.cpp): libewf gives the stored chunks, libdeflate
// inflates.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

namespace safehold::fs::ewf {

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

// Decoded chunks of one EWF image, shared by its readers: the whole-image reader (fs/reader.cpp)
// publishes the chunks it decoded and verified, and the TSK backend (fs/ewf_image.cpp) takes them
// instead of reading and inflating them again (carving reads the free space once for pass 2 while
// TSK's orphan searches and file reads cover much of it again). Zero chunks cost one byte each;
// decoded data is kept up to `budget` bytes. Entries never change once published, so pointers
// stay valid while the object lives. Thread-safe.
class SharedChunks {
 public:
  SharedChunks(uint64_t chunk_count, uint32_t chunk_size, size_t budget)
      : chunk_size_(chunk_size), budget_(budget) {
    if (chunk_count <= kMaxChunks)
      state_ = std::make_unique<std::atomic<uint8_t>[]>(chunk_count), count_ = chunk_count;
  }
  uint32_t chunk_size() const { return chunk_size_; }
  // Nothing is kept until a reader that shares is started (so plain TSK use holds no extra memory).
  void activate() { active_.store(true, std::memory_order_release); }
  size_t bytes_held() const {
    std::lock_guard<std::mutex> g(m_);
    return used_;
  }

  // The chunk's decoded bytes, or nullptr with *zero set when it holds zeros, or nullptr when
  // unknown.
  const std::byte* find(uint64_t index, bool* zero) const {
    *zero = false;
    if (index >= count_) return nullptr;
    uint8_t s = state_[index].load(std::memory_order_acquire);
    if (s == kZero) *zero = true;
    if (s != kData) return nullptr;
    std::lock_guard<std::mutex> g(m_);
    auto it = data_.find(index);
    return it == data_.end() ? nullptr : it->second.get();
  }
  void put_zero(uint64_t index) {
    if (index < count_ && active_.load(std::memory_order_acquire))
      state_[index].store(kZero, std::memory_order_release);
  }
  // `data` must be the verified content of the chunk (its full size).
  void put(uint64_t index, std::span<const std::byte> data) {
    if (index >= count_ || data.size() != chunk_size_ || !active_.load(std::memory_order_acquire) ||
        state_[index].load(std::memory_order_relaxed) != kUnknown)
      return;
    std::lock_guard<std::mutex> g(m_);
    if (used_ + data.size() > budget_ || data_.count(index)) return;
    auto copy = std::make_unique<std::byte[]>(data.size());
    std::memcpy(copy.get(), data.data(), data.size());
    data_.emplace(index, std::move(copy));
    used_ += data.size();
    state_[index].store(kData, std::memory_order_release);
  }

 private:
  static constexpr uint64_t kMaxChunks = uint64_t{1} << 26;  // 64 MiB of state at most
  static constexpr uint8_t kUnknown = 0, kZero = 1, kData = 2;
  uint32_t chunk_size_;
  size_t budget_;
  uint64_t count_ = 0;
  std::unique_ptr<std::atomic<uint8_t>[]> state_;
  mutable std::mutex m_;
  std::unordered_map<uint64_t, std::unique_ptr<std::byte[]>> data_;
  size_t used_ = 0;
  std::atomic<bool> active_{false};
};

}  // namespace safehold::fs::ewf
