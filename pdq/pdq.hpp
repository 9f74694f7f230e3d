// PDQ perceptual hashing (Meta's open algorithm, as published with ThreatExchange): a 256-bit
// hash of an image's luma that survives re-encoding, resizing and mild edits, with a quality
// score; its eight dihedral variants (rotations and flips) come from the DCT without re-hashing.
// Also: decoding JPEG (libjpeg-turbo) and PNG (libpng) into RGB, and matching against PDQ lists.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::pdq {

// 256 bits stored as the reference implementation does: sixteen 16-bit words; hex() prints
// word 15 first, so the hex matches the reference tools' output.
struct Hash {
  std::array<uint16_t, 16> w{};
  std::string hex() const;
  bool operator==(const Hash&) const = default;
};
std::optional<Hash> parse_hash(std::string_view hex);
int hamming(const Hash& a, const Hash& b);

inline constexpr int kMatchDistance = 31;  // a match: distance <= 31
inline constexpr int kMinQuality = 50;     // hashes of quality 49 or less are not matched

struct Result {
  Hash hash;
  int quality = 0;  // 0..100
};

// Dihedral variants, in the reference's order and names: [0] the image itself, [1] rotated 90
// degrees counter-clockwise, [2] 180, [3] 270, [4] flipped about the x axis (top and bottom
// swap), [5] about the y axis (left and right swap), [6] about the main diagonal (transpose),
// [7] about the anti-diagonal.
struct Dihedral {
  std::array<Hash, 8> hashes;
  int quality = 0;
};

// An 8-bit image, interleaved, channels 1 (grey) or 3 (RGB).
struct Image {
  int width = 0, height = 0, channels = 3;
  std::vector<uint8_t> pixels;
};

// Decodes JPEG or PNG by content. Returns nullopt (with *error set) for other or damaged data, or
// for images larger than max_pixels.
std::optional<Image> decode_image(std::span<const uint8_t> data, std::string* error = nullptr,
                                  uint64_t max_pixels = 256ull << 20);
std::optional<Image> decode_image_file(const std::filesystem::path& path,
                                       std::string* error = nullptr);
// Reads a whole file into `out` (false when it cannot be opened or read).
bool read_whole_file(const std::filesystem::path& path, std::vector<uint8_t>& out);

// Hashes luma (row-major, width*height values 0..255). Images under 5 pixels a side give quality 0.
Result hash_luma(const float* luma, int width, int height);

// The luma of an 8-bit pixel as hash_image computes it (grey: the value; RGB: 0.299 R + 0.587 G +
// 0.114 B in float, in this order).
inline float luma_of(const uint8_t* p, int channels) {
  return channels == 1 ? static_cast<float>(p[0]) : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

// Buffers reused from one image to the next, so that hashing an image neither allocates nor
// zero-fills nor faults fresh pages in. get(n) returns at least n elements whose contents are
// unspecified (a grown buffer is not copied or initialised).
template <class T>
class Scratch {
 public:
  T* get(size_t n) {
    if (n > size_) {
      data_ = std::make_unique_for_overwrite<T[]>(n);
      size_ = n;
    }
    return data_.get();
  }
  size_t size() const { return size_; }
  void release() {
    data_.reset();
    size_ = 0;
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
};

// Everything hashing one image needs beyond the encoded bytes: one per thread, reused across
// calls (never shared between threads at once). Holds about 4 bytes per pixel of the largest
// luma hashed so far, plus a decoded row (or a PNG's RGBA) and strips a few dozen rows high.
struct Workspace {
  Scratch<float> luma;           // the image's luma, blurred in place
  Scratch<float> strip, strip2;  // a transposed strip of rows, and its blur
  Scratch<float> ring;           // rows the in-place column blur still needs
  Scratch<float> sums;           // running sums of a blur
  Scratch<float> sampled;        // the second blur at the 64 sampled columns, every row
  Scratch<int> first;            // sampling positions: the first of the 64 taken at each column
  Scratch<uint8_t> pixels;       // a decoded JPEG row, or a PNG's RGBA
  // Frees everything (e.g. after a very large image, to give the memory back).
  void release();
  size_t bytes() const;
};

// How hash_encoded decodes a JPEG (PNG is always decoded in full).
enum class JpegDecode {
  // Every pixel to RGB, then luma_of: exactly what decode_image then hash_image give.
  Full,
  // libjpeg-turbo's DCT scaling by the largest of 1/2, 1/4 and 1/8 that leaves at least
  // min_short_side pixels on the short side, and the Y channel as luma (the chroma is not
  // transformed at all): about a quarter of the work on camera-sized photographs, hashes a few
  // bits from Full's (docs/carve.md gives the measured distribution). Images whose short side is
  // under twice min_short_side are not scaled and are decoded exactly as Full.
  Scaled,
};

struct EncodedOptions {
  JpegDecode jpeg = JpegDecode::Scaled;
  int min_short_side = 512;
  uint64_t max_pixels = 256ull << 20;  // larger images are refused (stored size, before scaling)
};

// The luma hash_encoded hashes, into ws.luma: decodes JPEG or PNG by content. *width and *height
// get the size of the luma (the decoded, perhaps scaled, size); *stored_width and *stored_height,
// when given, the image's own size. False (with *error set) when decode_image would fail.
bool decode_luma(std::span<const uint8_t> data, Workspace& ws, int* width, int* height,
                 std::string* error, const EncodedOptions& opts = {}, int* stored_width = nullptr,
                 int* stored_height = nullptr);

// Hashes JPEG or PNG bytes through decode_luma into `ws` (or, without one, a per-thread
// workspace): no RGB image and no allocation per image (a workspace holding more than 256 MiB
// after an image is released, so one huge picture does not pin its memory to a thread). With
// JpegDecode::Full the result is exactly decode_image then hash_image. Returns nullopt (with *error
// set) when decode_image would; *width and *height get the image's own size (before any scaling).
std::optional<Result> hash_encoded(std::span<const uint8_t> data, std::string* error, int* width,
                                   int* height, const EncodedOptions& opts = {},
                                   Workspace* ws = nullptr);
Result hash_image(const Image& img);
// Hashes packed RGB24 rows (`stride` bytes apart) through `ws`, exactly as the reference's
// fillFloatLumaFromRGB then pdqHash256FromFloatLuma do (vPDQ's frame hash): the same result as
// hash_image of the same pixels. Under 5 pixels a side: quality 0 and an all-zero hash.
Result hash_rgb(const uint8_t* rgb, int width, int height, size_t stride, Workspace& ws);
Dihedral hash_image_dihedral(const Image& img);

// A PDQ list: one hex hash a line, optionally followed by a label (after a space, tab or comma).
struct ListEntry {
  Hash hash;
  std::string label;
};
// Throws std::runtime_error naming the line of a malformed entry.
std::vector<ListEntry> load_list(const std::filesystem::path& path);

struct ListMatch {
  size_t entry;  // index into the list
  int distance;  // smallest over the dihedral variants
  int variant;   // which variant (0 = as is)
};
// The nearest entry within max_distance of any of the variants, or nullopt.
std::optional<ListMatch> match(const Dihedral& d, const std::vector<ListEntry>& list,
                               int max_distance = kMatchDistance);

}  // namespace safehold::pdq
