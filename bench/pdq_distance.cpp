// How far PDQ of a DCT-scaled JPEG decode (JpegDecode::Scaled) lies from PDQ of the full decode
// (JpegDecode::Full, the reference's input): generates N seeded synthetic pictures (gradients,
// sinusoid "plasma", colour fields, shapes, noise; no people), encodes each with libjpeg-turbo at a
// varied size, quality and chroma subsampling, hashes it both ways and prints the distribution of
// the Hamming distance, overall and per scale factor.
// usage: safehold_bench_pdq_distance [N] [SEED]   (docs/carve.md records a run); each image's
// size, scale, qualities and distance also go to stderr, one line each, for merging runs.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "pdq/pdq.hpp"

namespace {

using safehold::pdq::EncodedOptions;
using safehold::pdq::JpegDecode;

struct Rgb {
  float r, g, b;
};

// A synthetic picture: a background (gradient, plasma or colour fields), shapes, then noise.
std::vector<uint8_t> draw(int w, int h, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  auto colour = [&] { return Rgb{255 * u(rng), 255 * u(rng), 255 * u(rng)}; };
  std::vector<Rgb> img(static_cast<size_t>(w) * h);
  const int kind = static_cast<int>(rng() % 3);
  const Rgb c0 = colour(), c1 = colour();
  const float angle = 6.283f * u(rng);
  const float ca = std::cos(angle), sa = std::sin(angle);
  // Plasma: four sinusoids, sin(ax + by + p) = sin(ax + p) cos(by) + cos(ax + p) sin(by), from
  // per-column and per-row tables.
  std::vector<float> sx(static_cast<size_t>(w) * 4), cx(sx.size()), sy(static_cast<size_t>(h) * 4),
      cy(sy.size());
  for (int k = 0; k < 4; ++k) {
    const float fx = (1 + 12 * u(rng)) / w, fy = (1 + 12 * u(rng)) / h, ph = 6.283f * u(rng);
    for (int x = 0; x < w; ++x) {
      sx[static_cast<size_t>(x) * 4 + k] = std::sin(6.283f * fx * x + ph);
      cx[static_cast<size_t>(x) * 4 + k] = std::cos(6.283f * fx * x + ph);
    }
    for (int y = 0; y < h; ++y) {
      sy[static_cast<size_t>(y) * 4 + k] = std::sin(6.283f * fy * y);
      cy[static_cast<size_t>(y) * 4 + k] = std::cos(6.283f * fy * y);
    }
  }
  const int cells = 2 + static_cast<int>(rng() % 8);
  std::vector<Rgb> field(static_cast<size_t>(cells * cells));
  for (auto& f : field) f = colour();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      Rgb& p = img[static_cast<size_t>(y) * w + x];
      float t;
      if (kind == 0) {
        t = 0.5f +
            0.5f * ((x - w / 2) * ca + (y - h / 2) * sa) / static_cast<float>(std::max(w, h));
      } else if (kind == 1) {
        t = 0;
        for (size_t k = 0; k < 4; ++k) {
          const size_t i = static_cast<size_t>(x) * 4 + k, j = static_cast<size_t>(y) * 4 + k;
          t += sx[i] * cy[j] + cx[i] * sy[j];
        }
        t = 0.5f + t / 8;
      } else {
        p = field[static_cast<size_t>(y * cells / h * cells + x * cells / w)];
        continue;
      }
      p = {c0.r + t * (c1.r - c0.r), c0.g + t * (c1.g - c0.g), c0.b + t * (c1.b - c0.b)};
    }
  const int shapes = static_cast<int>(rng() % 24);
  for (int s = 0; s < shapes; ++s) {
    const Rgb c = colour();
    const int cx = static_cast<int>(u(rng) * w), cy = static_cast<int>(u(rng) * h);
    const int rx = 1 + static_cast<int>(u(rng) * w / 4), ry = 1 + static_cast<int>(u(rng) * h / 4);
    const bool ellipse = rng() % 2;
    for (int y = std::max(0, cy - ry); y < std::min(h, cy + ry); ++y)
      for (int x = std::max(0, cx - rx); x < std::min(w, cx + rx); ++x) {
        const float dx = static_cast<float>(x - cx) / rx, dy = static_cast<float>(y - cy) / ry;
        if (!ellipse || dx * dx + dy * dy <= 1) img[static_cast<size_t>(y) * w + x] = c;
      }
  }
  const float sigma = rng() % 3 == 0 ? 0.0f : 25 * u(rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> noise(4096);  // drawn from a table: per-pixel normal draws are slow
  for (auto& v : noise) v = sigma * normal(rng);
  std::vector<uint8_t> out(img.size() * 3);
  auto clamp = [](float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f) + 0.5f); };
  for (size_t i = 0; i < img.size(); ++i) {
    const float n = noise[rng() % noise.size()];
    out[i * 3] = clamp(img[i].r + n);
    out[i * 3 + 1] = clamp(img[i].g + n);
    out[i * 3 + 2] = clamp(img[i].b + n);
  }
  return out;
}

std::vector<uint8_t> encode(const std::vector<uint8_t>& rgb, int w, int h, int quality, int h_samp,
                            int v_samp) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  c.comp_info[0].h_samp_factor = h_samp;
  c.comp_info[0].v_samp_factor = v_samp;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(&rgb[static_cast<size_t>(c.next_scanline) * w * 3]);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::mt19937 rng(argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 22u);
  const int aspects[][2] = {{4, 3}, {3, 4}, {3, 2}, {16, 9}, {9, 16}, {1, 1}};
  std::map<int, std::vector<int>> by_denom;  // scale denominator -> distances
  std::vector<int> all, low, quality_delta;
  for (int i = 0; i < n; ++i) {
    // Short sides 1024..3100 (camera-sized at the top; 1 in 50 from 4096, scaled by 1/8), odd
    // sizes included.
    const auto& a = aspects[rng() % 6];
    const int s = rng() % 50 == 0 ? 4096 + static_cast<int>(rng() % 300)
                                  : 1024 + static_cast<int>(rng() % 2077);
    const int w = a[0] >= a[1] ? s * a[0] / a[1] : s, h = a[0] >= a[1] ? s : s * a[1] / a[0];
    const int quality = 60 + static_cast<int>(rng() % 38);
    const int samp = static_cast<int>(rng() % 3);  // 4:2:0, 4:2:2, 4:4:4
    auto jpeg = encode(draw(w, h, rng), w, h, quality, samp == 2 ? 1 : 2, samp == 0 ? 2 : 1);
    std::string err;
    int sw = 0, sh = 0, lw = 0, lh = 0;
    auto full = safehold::pdq::hash_encoded(jpeg, &err, &sw, &sh, EncodedOptions{JpegDecode::Full});
    auto scaled = safehold::pdq::hash_encoded(jpeg, &err, &sw, &sh);
    safehold::pdq::Workspace ws;
    if (!full || !scaled || !safehold::pdq::decode_luma(jpeg, ws, &lw, &lh, &err)) {
      std::fprintf(stderr, "image %d: %s\n", i, err.c_str());
      return 1;
    }
    const int d = safehold::pdq::hamming(full->hash, scaled->hash);
    std::fprintf(stderr, "%dx%d q%d 1/%ld pdq-quality %d %d distance %d\n", w, h, quality,
                 std::lround(static_cast<double>(sw) / lw), full->quality, scaled->quality, d);
    quality_delta.push_back(std::abs(full->quality - scaled->quality));
    // Hashes of quality under 50 are not matched (kMinQuality): counted apart.
    if (full->quality < safehold::pdq::kMinQuality) {
      low.push_back(d);
      continue;
    }
    all.push_back(d);
    by_denom[static_cast<int>(std::lround(static_cast<double>(sw) / lw))].push_back(d);
  }
  auto summary = [](const char* name, std::vector<int> v) {
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) { return v[static_cast<size_t>(p * (v.size() - 1))]; };
    double mean = 0;
    for (int x : v) mean += x;
    std::printf("%-15s n=%-5zu mean %.2f  median %d  p90 %d  p99 %d  max %d\n", name, v.size(),
                mean / v.size(), pct(0.5), pct(0.9), pct(0.99), v.back());
  };
  summary("quality >= 50", all);
  for (auto& [denom, v] : by_denom) summary(("scale 1/" + std::to_string(denom)).c_str(), v);
  if (!low.empty()) summary("quality < 50", low);
  summary("|quality diff|", quality_delta);
  std::map<int, int> hist;
  for (int d : all) ++hist[d];
  std::printf("histogram (distance: images):");
  for (auto [d, c] : hist) std::printf(" %d:%d", d, c);
  std::printf("\n");
}
