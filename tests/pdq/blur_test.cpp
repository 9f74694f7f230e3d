// PDQ's blur and decimation against a line-by-line port of the reference's (ThreatExchange
// pdq/cpp: box1DFloat, boxAlongRowsFloat, boxAlongColsFloat, jaroszFilterFloat, decimateFloat),
// bit for bit, and the DCT-scaled decode against the full one.
#include "pdq/blur.hpp"

#include <fmt/core.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "pdq/pdq.hpp"
#include "tests/common/support.hpp"

using namespace safehold::pdq;
using safehold::test::TempDir;

namespace {

void ref_box1d(const float* in, float* out, int length, int stride, int window) {
  int half = (window + 2) / 2;
  int p1 = half - 1, p2 = window - half + 1, p3 = length - window, p4 = half - 1;
  int li = 0, ri = 0, oi = 0;
  float sum = 0.0;
  int current = 0;
  for (int i = 0; i < p1; i++) {
    sum += in[ri];
    current++;
    ri += stride;
  }
  for (int i = 0; i < p2; i++) {
    sum += in[ri];
    current++;
    out[oi] = sum / current;
    ri += stride;
    oi += stride;
  }
  for (int i = 0; i < p3; i++) {
    sum += in[ri];
    sum -= in[li];
    out[oi] = sum / current;
    li += stride;
    ri += stride;
    oi += stride;
  }
  for (int i = 0; i < p4; i++) {
    sum -= in[li];
    current--;
    out[oi] = sum / current;
    li += stride;
    oi += stride;
  }
}

// The reference: two repetitions of rows then columns, then the 64x64 decimation.
void ref_blur_and_sample(std::vector<float> a, int cols, int rows, float (&small)[64][64]) {
  std::vector<float> b(a.size());
  const int wr = detail::jarosz_window(cols), wc = detail::jarosz_window(rows);
  for (int rep = 0; rep < 2; ++rep) {
    for (int i = 0; i < rows; ++i)
      ref_box1d(&a[static_cast<size_t>(i) * cols], &b[static_cast<size_t>(i) * cols], cols, 1, wr);
    for (int j = 0; j < cols; ++j) ref_box1d(&b[j], &a[j], rows, cols, wc);
  }
  for (int i = 0; i < 64; i++) {
    int ini = static_cast<int>(((i + 0.5) * rows) / 64);
    for (int j = 0; j < 64; j++) {
      int inj = static_cast<int>(((j + 0.5) * cols) / 64);
      small[i][j] = a[static_cast<size_t>(ini) * cols + inj];
    }
  }
}

std::vector<uint8_t> file_bytes(const std::filesystem::path& p) {
  std::vector<uint8_t> bytes;
  REQUIRE(read_whole_file(p, bytes));
  return bytes;
}

}  // namespace

TEST_CASE("pdq blur and decimation equal the reference's bit for bit at every size", "[pdq]") {
  std::mt19937 rng(22);
  std::uniform_real_distribution<float> value(0.0f, 255.0f);
  Workspace ws;  // one workspace through sizes up and down: nothing may depend on what it held
  for (auto [w, h] : std::vector<std::pair<int, int>>{{5, 5},
                                                      {5, 300},
                                                      {300, 7},
                                                      {63, 65},
                                                      {64, 64},
                                                      {127, 129},
                                                      {256, 17},
                                                      {1000, 750},
                                                      {17, 33},
                                                      {1023, 1537},
                                                      {640, 480}}) {
    std::vector<float> luma(static_cast<size_t>(w) * h);
    for (auto& v : luma) v = value(rng);
    float want[64][64], got[64][64];
    ref_blur_and_sample(luma, w, h, want);
    std::vector<float> work = luma;
    detail::blur_and_sample(work.data(), w, h, ws, got);
    INFO(w << "x" << h);
    int differ = 0;
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 64; ++j) differ += std::memcmp(&want[i][j], &got[i][j], 4) != 0;
    CHECK(differ == 0);
  }
}

TEST_CASE("pdq scaled JPEG decode keeps 512 pixels and stays within a few bits", "[pdq]") {
  TempDir t;
  // A camera-like scene: plasma, shapes and noise, 2400x1800 (scaled by 1/2: 1800 / 4 < 512).
  safehold::test::must_run(
      "convert -seed 5 -size 600x450 plasma:fractal -resize 2400x1800! -fill 'rgb(30,90,200)' "
      "-draw 'circle 1200,900 1600,900' -fill 'rgb(240,200,30)' -draw 'rectangle 300,200 900,1000' "
      "-attenuate 0.3 +noise Gaussian -quality 90 " +
      safehold::test::shell_quote((t / "big.jpg").string()));
  safehold::test::must_run("convert " + safehold::test::shell_quote((t / "big.jpg").string()) +
                           " -resize 800x600! -quality 90 " +
                           safehold::test::shell_quote((t / "small.jpg").string()));
  Workspace ws;
  for (auto [name, lw, lh] : std::vector<std::tuple<std::string, int, int>>{
           {"big.jpg", 1200, 900}, {"small.jpg", 800, 600}}) {
    INFO(name);
    auto bytes = file_bytes(t / name);
    std::string err;
    int w = 0, h = 0, sw = 0, sh = 0;
    REQUIRE(decode_luma(bytes, ws, &w, &h, &err, {}, &sw, &sh));
    CHECK(w == lw);
    CHECK(h == lh);
    auto full = hash_encoded(bytes, &err, &sw, &sh, EncodedOptions{JpegDecode::Full}, &ws);
    REQUIRE(full);
    auto img = decode_image(bytes);
    REQUIRE(img);
    CHECK(full->hash == hash_image(*img).hash);
    int stored_w = 0, stored_h = 0;
    auto scaled = hash_encoded(bytes, &err, &stored_w, &stored_h, {}, &ws);
    REQUIRE(scaled);
    CHECK(stored_w == img->width);  // the image's own size, not the scaled one
    CHECK(stored_h == img->height);
    INFO(full->hash.hex() << " " << scaled->hash.hex());
    if (w == stored_w) {  // too small to scale: decoded exactly as Full
      CHECK(scaled->hash == full->hash);
      CHECK(scaled->quality == full->quality);
    } else {
      CHECK(hamming(full->hash, scaled->hash) <= 8);
      CHECK(std::abs(full->quality - scaled->quality) <= 5);
    }
    // A workspace that held other images gives the same hash as the thread's own.
    auto again = hash_encoded(bytes, &err, &stored_w, &stored_h);
    REQUIRE(again);
    CHECK(again->hash == scaled->hash);
  }
  // 1/8 is the limit: a 4200-pixel short side gives 525.
  safehold::test::must_run("convert -size 4400x4200 gradient:gold-navy -quality 80 " +
                           safehold::test::shell_quote((t / "huge.jpg").string()));
  auto bytes = file_bytes(t / "huge.jpg");
  std::string err;
  int w = 0, h = 0;
  REQUIRE(decode_luma(bytes, ws, &w, &h, &err));
  CHECK(w == 550);
  CHECK(h == 525);
  REQUIRE(decode_luma(bytes, ws, &w, &h, &err, EncodedOptions{JpegDecode::Scaled, 1000}));
  CHECK(w == 1100);
  CHECK(h == 1050);
}
