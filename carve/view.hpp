// carve/: media carving. This header: the bounds-checked byte view every format walker reads
// (bulk_extractor's sbuf_t + pos0_t). A view never exposes a raw pointer and length; reads past
// its end return nothing instead of touching memory they do not own. Where its first byte lives is
// an Origin that names its address space, so a file offset can never be taken for a carve-space
// offset (pass 1 and pass 2 address their bytes differently).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace safehold::carve {

// The address space a view's offsets are in.
enum class Space {
  file,   // a file's content or a buffer of its own (pass 1, walkers' tests): 0 = its first byte
  carve,  // pass 2's carve space: unallocated and unpartitioned ranges laid end to end
          // (carve/pass2.hpp's CarveSpace maps it to image byte runs)
};

// Where a view's first byte lives.
struct Origin {
  Space space = Space::file;
  uint64_t offset = 0;
};

class ByteView {
 public:
  ByteView() = default;
  // ends_data: no byte exists after the view (a whole file, or the end of the carved space), so a
  // structure that may continue ends here instead of asking for more.
  explicit ByteView(std::span<const std::byte> data, Origin at = {}, bool ends_data = false)
      : data_(data), at_(at), ends_data_(ends_data) {}
  // A whole file or buffer (nothing follows it), starting at its own offset 0.
  static ByteView whole(std::span<const std::byte> data) { return ByteView(data, {}, true); }
  // Bytes of pass 2's carve space starting at carve-space offset `offset`.
  static ByteView in_carve_space(std::span<const std::byte> data, uint64_t offset, bool ends_data) {
    return ByteView(data, {Space::carve, offset}, ends_data);
  }

  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  Origin origin() const { return at_; }
  // The carve-space offset of the first byte; throws std::bad_optional_access on any other view.
  uint64_t carve_offset() const {
    return (at_.space == Space::carve ? std::optional<uint64_t>(at_.offset) : std::nullopt).value();
  }
  bool ends_data() const { return ends_data_; }
  bool has(uint64_t off, uint64_t len) const {
    return off <= data_.size() && len <= data_.size() - off;
  }

  // A sub-view [off, off+len), clipped to this view.
  ByteView sub(uint64_t off, uint64_t len = UINT64_MAX) const {
    const Origin at{at_.space, at_.offset + off};
    if (off >= data_.size()) return ByteView({}, at, ends_data_);
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, data_.size() - off));
    return ByteView(data_.subspan(static_cast<size_t>(off), n), at,
                    ends_data_ && n == data_.size() - off);
  }
  ByteView prefix(uint64_t len) const { return sub(0, len); }

  std::optional<uint8_t> u8(uint64_t off) const {
    if (off >= data_.size()) return std::nullopt;
    return static_cast<uint8_t>(data_[static_cast<size_t>(off)]);
  }
  // Unchecked-looking but safe: 0 past the end. Use only after has().
  uint8_t at(uint64_t off) const { return u8(off).value_or(0); }

  std::optional<uint16_t> be16(uint64_t off) const { return num<uint16_t>(off, 2, true); }
  std::optional<uint32_t> be32(uint64_t off) const { return num<uint32_t>(off, 4, true); }
  std::optional<uint64_t> be64(uint64_t off) const { return num<uint64_t>(off, 8, true); }
  std::optional<uint16_t> le16(uint64_t off) const { return num<uint16_t>(off, 2, false); }
  std::optional<uint32_t> le32(uint64_t off) const { return num<uint32_t>(off, 4, false); }
  std::optional<uint64_t> le64(uint64_t off) const { return num<uint64_t>(off, 8, false); }
  std::optional<uint32_t> u16e(uint64_t off, bool big) const { return num<uint16_t>(off, 2, big); }
  std::optional<uint32_t> u32e(uint64_t off, bool big) const { return num<uint32_t>(off, 4, big); }

  // True when the bytes at off equal s.
  bool matches(uint64_t off, std::string_view s) const {
    if (!has(off, s.size())) return false;
    for (size_t i = 0; i < s.size(); ++i)
      if (static_cast<char>(data_[static_cast<size_t>(off) + i]) != s[i]) return false;
    return true;
  }
  // Position of byte b at or after off, or size() when absent.
  uint64_t find(uint8_t b, uint64_t off) const {
    if (off >= data_.size()) return data_.size();
    const void* p = std::memchr(data_.data() + off, b, data_.size() - static_cast<size_t>(off));
    return p ? static_cast<uint64_t>(static_cast<const std::byte*>(p) - data_.data())
             : data_.size();
  }

  // The bytes themselves, for hashing, CRCs, decoders and writing out.
  std::span<const std::byte> bytes() const { return data_; }

 private:
  template <typename T>
  std::optional<T> num(uint64_t off, size_t n, bool big) const {
    if (!has(off, n)) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      uint64_t b = static_cast<uint8_t>(data_[static_cast<size_t>(off) + (big ? i : n - 1 - i)]);
      v = (v << 8) | b;
    }
    return static_cast<T>(v);
  }

  std::span<const std::byte> data_;
  Origin at_;
  bool ends_data_ = false;
};

}  // namespace safehold::carve
