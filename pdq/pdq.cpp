// PDQ as specified by its authors (ThreatExchange pdq/README and hashing.pdf): luma, two passes
// of a Jarosz box filter (a tent-like blur) sized to the image, decimation to 64x64, a 16x64 DCT
// matrix (frequencies 1..16, skipping DC) giving 16x16 coefficients, one bit per coefficient
// above the median; quality from the 64x64 gradient sum.
#include "pdq/pdq.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>

#include "pdq/blur.hpp"

namespace safehold::pdq {

Workspace& detail::thread_workspace() {
  thread_local Workspace ws;
  return ws;
}

namespace {

constexpr int kMinDim = 5;
constexpr size_t kKeepWorkspaceBytes = size_t{256} << 20;
using Mat16 = std::array<std::array<float, 16>, 16>;

struct DctMatrix {
  float d[16][64];
  DctMatrix() {
    const double scale = std::sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 64; ++j)
        d[i][j] = static_cast<float>(scale * std::cos((M_PI / 2 / 64.0) * (i + 1) * (2 * j + 1)));
  }
};
const DctMatrix& dct_matrix() {
  static const DctMatrix m;
  return m;
}

// The reference's median (Torben's algorithm): the lower median for an even count.
float torben(const float* m, int n) {
  float mn = m[0], mx = m[0];
  for (int i = 1; i < n; ++i) {
    mn = std::min(mn, m[i]);
    mx = std::max(mx, m[i]);
  }
  int less = 0, greater = 0, equal = 0;
  float guess = 0, maxlt = 0, mingt = 0;
  for (;;) {
    guess = (mn + mx) / 2;
    less = greater = equal = 0;
    maxlt = mn;
    mingt = mx;
    for (int i = 0; i < n; ++i) {
      if (m[i] < guess) {
        ++less;
        if (m[i] > maxlt) maxlt = m[i];
      } else if (m[i] > guess) {
        ++greater;
        if (m[i] < mingt) mingt = m[i];
      } else {
        ++equal;
      }
    }
    if (less <= (n + 1) / 2 && greater <= (n + 1) / 2) break;
    if (less > greater)
      mx = maxlt;
    else
      mn = mingt;
  }
  if (less >= (n + 1) / 2) return maxlt;
  if (less + equal >= (n + 1) / 2) return guess;
  return mingt;
}

Hash to_bits(const Mat16& c) {
  float median = torben(&c[0][0], 256);
  Hash h;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      if (c[i][j] > median) h.w[i] |= static_cast<uint16_t>(1u << j);
  return h;
}

struct Core {
  Mat16 dct{};
  int quality = 0;
  bool ok = false;
};

// `a` holds the luma and is overwritten.
Core compute_in_place(float* a, int width, int height, Workspace& ws) {
  Core core;
  if (width < kMinDim || height < kMinDim) return core;
  float small[64][64];
  detail::blur_and_sample(a, width, height, ws, small);
  int gradient = 0;
  for (int i = 0; i < 63; ++i)
    for (int j = 0; j < 64; ++j)
      gradient += std::abs(static_cast<int>(((small[i][j] - small[i + 1][j]) * 100) / 255));
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 63; ++j)
      gradient += std::abs(static_cast<int>(((small[i][j] - small[i][j + 1]) * 100) / 255));
  core.quality = std::min(100, gradient / 90);

  const auto& d = dct_matrix().d;
  float t[16][64];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 64; ++j) {
      float s = 0;
      for (int k = 0; k < 64; ++k) s += d[i][k] * small[k][j];
      t[i][j] = s;
    }
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float s = 0;
      for (int k = 0; k < 64; ++k) s += t[i][k] * d[j][k];
      core.dct[i][j] = s;
    }
  core.ok = true;
  return core;
}

Core compute(const float* luma, int width, int height) {
  if (width < kMinDim || height < kMinDim) return Core{};
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  Workspace& ws = detail::thread_workspace();
  float* a = ws.luma.get(n);
  std::copy(luma, luma + n, a);
  return compute_in_place(a, width, height, ws);
}

// luma_of every pixel of `img`, into ws.luma.
float* to_luma(const Image& img, Workspace& ws) {
  const size_t n = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
  float* luma = ws.luma.get(n);
  const uint8_t* p = img.pixels.data();
  if (img.channels == 1) {
    for (size_t i = 0; i < n; ++i) luma[i] = p[i];
  } else {
    for (size_t i = 0; i < n; ++i, p += img.channels) luma[i] = luma_of(p, 3);
  }
  return luma;
}

Core compute_image(const Image& img) {
  if (img.width < kMinDim || img.height < kMinDim) return Core{};
  Workspace& ws = detail::thread_workspace();
  return compute_in_place(to_luma(img, ws), img.width, img.height, ws);
}

}  // namespace

void Workspace::release() {
  luma.release();
  strip.release();
  strip2.release();
  ring.release();
  sums.release();
  sampled.release();
  first.release();
  pixels.release();
}

size_t Workspace::bytes() const {
  return (luma.size() + strip.size() + strip2.size() + ring.size() + sums.size() + sampled.size()) *
             sizeof(float) +
         first.size() * sizeof(int) + pixels.size();
}

std::string Hash::hex() const {
  std::string s;
  for (int i = 15; i >= 0; --i) s += fmt::format("{:04x}", w[static_cast<size_t>(i)]);
  return s;
}

std::optional<Hash> parse_hash(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Hash h;
  for (int i = 0; i < 16; ++i) {
    uint16_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = hex[static_cast<size_t>(i * 4 + k)];
      int x = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (x < 0) return std::nullopt;
      v = static_cast<uint16_t>(v << 4 | x);
    }
    h.w[static_cast<size_t>(15 - i)] = v;
  }
  return h;
}

int hamming(const Hash& a, const Hash& b) {
  int d = 0;
  for (size_t i = 0; i < 16; ++i) d += std::popcount(static_cast<unsigned>(a.w[i] ^ b.w[i]));
  return d;
}

namespace {
// The hash and quality of a computed core; an empty result when it could not be computed.
Result result_of(const Core& c) {
  Result r;
  if (!c.ok) return r;
  r.hash = to_bits(c.dct);
  r.quality = c.quality;
  return r;
}
}  // namespace

Result hash_luma(const float* luma, int width, int height) {
  return result_of(compute(luma, width, height));
}

Result hash_image(const Image& img) {
  return result_of(compute_image(img));
}

std::optional<Result> hash_encoded(std::span<const uint8_t> data, std::string* error, int* width,
                                   int* height, const EncodedOptions& opts, Workspace* ws) {
  Workspace& w = ws ? *ws : detail::thread_workspace();
  int lw = 0, lh = 0;
  if (!decode_luma(data, w, &lw, &lh, error, opts, width, height)) return std::nullopt;
  Core c = compute_in_place(w.luma.get(0), lw, lh, w);
  // A workspace grown by one huge image gives its memory back rather than keep it per thread.
  if (w.bytes() > kKeepWorkspaceBytes) w.release();
  return result_of(c);
}

Result hash_rgb(const uint8_t* rgb, int width, int height, size_t stride, Workspace& ws) {
  if (width < kMinDim || height < kMinDim) return Result{};
  const size_t w = static_cast<size_t>(width);
  float* luma = ws.luma.get(w * static_cast<size_t>(height));
  for (size_t y = 0; y < static_cast<size_t>(height); ++y) {
    const uint8_t* p = rgb + y * stride;
    float* out = luma + y * w;
    for (size_t x = 0; x < w; ++x, p += 3) out[x] = luma_of(p, 3);
  }
  return result_of(compute_in_place(luma, width, height, ws));
}

Dihedral hash_image_dihedral(const Image& img) {
  Core c = compute_image(img);
  Dihedral out;
  if (!c.ok) return out;
  out.quality = c.quality;
  // Coefficient k is frequency k+1: mirroring an axis negates the odd frequencies (even k), and a
  // transposition swaps the axes.
  auto variant = [&](bool transpose, bool neg_rows, bool neg_cols) {
    Mat16 m;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        float v = transpose ? c.dct[j][i] : c.dct[i][j];
        if (neg_rows && i % 2 == 0) v = -v;
        if (neg_cols && j % 2 == 0) v = -v;
        m[i][j] = v;
      }
    return to_bits(m);
  };
  // Named as the reference names them (and its test images bridge-2 ... bridge-8).
  out.hashes[0] = variant(false, false, false);
  out.hashes[1] = variant(true, true, false);   // rotate 90 (counter-clockwise)
  out.hashes[2] = variant(false, true, true);   // rotate 180
  out.hashes[3] = variant(true, false, true);   // rotate 270
  out.hashes[4] = variant(false, true, false);  // flip x (top and bottom swap)
  out.hashes[5] = variant(false, false, true);  // flip y (left and right swap)
  out.hashes[6] = variant(true, false, false);  // flip plus 1 (main diagonal)
  out.hashes[7] = variant(true, true, true);    // flip minus 1 (anti-diagonal)
  return out;
}

std::vector<ListEntry> load_list(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", path.string()));
  std::vector<ListEntry> out;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    size_t e = line.find_first_of(" \t,", b);
    std::string_view hex = std::string_view(line).substr(b, e == std::string::npos ? e : e - b);
    auto h = parse_hash(hex);
    if (!h)
      throw std::runtime_error(
          fmt::format("{}: line {}: not a PDQ hash (64 hex digits)", path.string(), n));
    std::string label;
    if (e != std::string::npos) {
      size_t lb = line.find_first_not_of(" \t,", e);
      if (lb != std::string::npos) label = line.substr(lb);
    }
    out.push_back({*h, std::move(label)});
  }
  return out;
}

std::optional<ListMatch> match(const Dihedral& d, const std::vector<ListEntry>& list,
                               int max_distance) {
  std::optional<ListMatch> best;
  for (size_t i = 0; i < list.size(); ++i)
    for (int v = 0; v < 8; ++v) {
      int dist = hamming(d.hashes[static_cast<size_t>(v)], list[i].hash);
      if (dist <= max_distance && (!best || dist < best->distance)) best = ListMatch{i, dist, v};
    }
  return best;
}

}  // namespace safehold::pdq
