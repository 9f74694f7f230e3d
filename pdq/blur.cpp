// The reference blurs the whole image four times (rows, columns, rows, columns) and then keeps
// 64x64 samples of it. Every sample here gets exactly the reference's operations in the
// reference's order (so the same floats), but:
// - the row blurs run as column blurs of 16-row strips transposed into a cache-sized buffer, so
//   that 16 running sums advance side by side (the reference's running sum along one row is a
//   chain of dependent additions);
// - the first column blur runs in place, keeping the rows it still has to subtract in a ring of
//   window + 1 rows, so one image-sized buffer is enough;
// - the second row blur only divides and stores at the 64 sampled columns, and the second column
//   blur then runs over those 64 columns only and stores the 64 sampled rows.
#include "pdq/blur.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#ifdef __SSE2__
#include <xmmintrin.h>
#endif

namespace safehold::pdq::detail {

namespace {

constexpr int kStrip = 16;
using StripWidth = std::integral_constant<int, kStrip>;

// out[j * out_stride + i] = in[i * in_stride + j] for i < rows, j < cols; 4x4 blocks at a time.
void transpose(const float* in, size_t in_stride, int rows, int cols, float* out,
               size_t out_stride) {
  int i = 0;
#ifdef __SSE2__
  for (; i + 4 <= rows; i += 4) {
    const float* p = in + static_cast<size_t>(i) * in_stride;
    int j = 0;
    for (; j + 4 <= cols; j += 4) {
      __m128 r0 = _mm_loadu_ps(p + j), r1 = _mm_loadu_ps(p + in_stride + j);
      __m128 r2 = _mm_loadu_ps(p + 2 * in_stride + j), r3 = _mm_loadu_ps(p + 3 * in_stride + j);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float* q = out + static_cast<size_t>(j) * out_stride + i;
      _mm_storeu_ps(q, r0);
      _mm_storeu_ps(q + out_stride, r1);
      _mm_storeu_ps(q + 2 * out_stride, r2);
      _mm_storeu_ps(q + 3 * out_stride, r3);
    }
    for (; j < cols; ++j)
      for (int k = i; k < i + 4; ++k)
        out[static_cast<size_t>(j) * out_stride + k] = in[static_cast<size_t>(k) * in_stride + j];
  }
#endif
  for (; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      out[static_cast<size_t>(j) * out_stride + i] = in[static_cast<size_t>(i) * in_stride + j];
}

// The running-sum steps and the division, as separate functions so that the compiler knows the
// rows do not overlap and vectorises them (each element keeps the reference's operations).
template <class Width>
inline void add_row(Width n, float* __restrict s, const float* __restrict x) {
  for (int j = 0; j < n; ++j) s[j] += x[j];
}
template <class Width>
inline void add_sub_row(Width n, float* __restrict s, const float* __restrict x,
                        const float* __restrict y) {
  for (int j = 0; j < n; ++j) {
    s[j] += x[j];
    s[j] -= y[j];
  }
}
template <class Width>
inline void sub_row(Width n, float* __restrict s, const float* __restrict y) {
  for (int j = 0; j < n; ++j) s[j] -= y[j];
}
template <class Width>
inline void divide(Width n, const float* __restrict s, float c, float* __restrict out) {
  for (int j = 0; j < n; ++j) out[j] = s[j] / c;
}

// The reference's one-dimensional box filter (box1DFloat) down each of `width` columns at once:
// in(r) gives input row r as it is added at the front of the window, back(r) the same row as it
// is subtracted at the back, and emit(o, sums, count) is called once per output row o, whose
// values are sums[j] / count. `Width` may be a std::integral_constant so the loops have a fixed
// trip count.
template <class Width, class In, class Back, class Emit>
void box_sweep(Width width, int height, int window, float* s, In in, Back back, Emit emit) {
  const int half = (window + 2) / 2;
  const int phase1 = half - 1, phase2 = window - half + 1, phase3 = height - window,
            phase4 = half - 1;
  const int w = width;
  std::fill(s, s + w, 0.0f);
  int li = 0, ri = 0, oi = 0, current = 0;
  for (int i = 0; i < phase1; ++i) {
    add_row(width, s, in(ri++));
    ++current;
  }
  for (int i = 0; i < phase2; ++i) {
    add_row(width, s, in(ri++));
    ++current;
    emit(oi++, static_cast<const float*>(s), static_cast<float>(current));
  }
  for (int i = 0; i < phase3; ++i) {
    add_sub_row(width, s, in(ri++), back(li++));
    emit(oi++, static_cast<const float*>(s), static_cast<float>(current));
  }
  for (int i = 0; i < phase4; ++i) {
    sub_row(width, s, back(li++));
    --current;
    emit(oi++, static_cast<const float*>(s), static_cast<float>(current));
  }
}

// The row blur of `k` rows starting at `rows` (stride `stride`, `width` long), in place: the strip
// is transposed into t (width rows of k), blurred down its columns into u, transposed back.
template <class Width>
void blur_strip(float* rows, size_t stride, Width k, int width, int window, float* t, float* u,
                float* s) {
  const int kk = k;
  transpose(rows, stride, kk, width, t, static_cast<size_t>(kk));
  auto row = [&](int i) { return static_cast<const float*>(t + static_cast<size_t>(i) * kk); };
  box_sweep(k, width, window, s, row, row, [&](int o, const float* sum, float c) {
    divide(k, sum, c, u + static_cast<size_t>(o) * kk);
  });
  transpose(u, static_cast<size_t>(kk), width, kk, rows, stride);
}

// The second row blur of the same strip, only at the sampled columns: column x of the image is
// sampled as small[.][first[x] .. first[x + 1] - 1]; out holds 64 values per row.
template <class Width>
void sample_strip(const float* rows, size_t stride, Width k, int width, int window,
                  const int* first, float* t, float* s, float* out) {
  const int kk = k;
  transpose(rows, stride, kk, width, t, static_cast<size_t>(kk));
  auto row = [&](int i) { return static_cast<const float*>(t + static_cast<size_t>(i) * kk); };
  box_sweep(k, width, window, s, row, row, [&](int o, const float* sum, float c) {
    for (int j = first[o]; j < first[o + 1]; ++j)
      for (int r = 0; r < kk; ++r) out[static_cast<size_t>(r) * 64 + j] = sum[r] / c;
  });
}

// first[x] for x in 0..n: how many of the 64 sample positions (i + 0.5) * n / 64 lie below x,
// so the samples taken at position x are first[x] .. first[x + 1] - 1.
void sample_positions(int n, int* first) {
  int i = 0;
  for (int x = 0; x <= n; ++x) {
    while (i < 64 && static_cast<int>(((i + 0.5) * n) / 64) < x) ++i;
    first[x] = i;
  }
}

}  // namespace

void blur_and_sample(float* a, int width, int height, Workspace& ws, float (&small)[64][64]) {
  const size_t w = static_cast<size_t>(width);
  const int wr = jarosz_window(width), wc = jarosz_window(height);
  int* first_col = ws.first.get(w + 1 + static_cast<size_t>(height) + 1);
  int* first_row = first_col + w + 1;
  sample_positions(width, first_col);
  sample_positions(height, first_row);
  float* s = ws.sums.get(std::max<size_t>(w, 64));
  float* t = ws.strip.get(w * kStrip);
  float* u = ws.strip2.get(w * kStrip);

  // Pass 1, rows: in place, strip by strip.
  int r0 = 0;
  for (; r0 + kStrip <= height; r0 += kStrip)
    blur_strip(a + r0 * w, w, StripWidth{}, width, wr, t, u, s);
  if (r0 < height) blur_strip(a + r0 * w, w, height - r0, width, wr, t, u, s);

  // Pass 1, columns: in place; each row is copied into the ring before it is overwritten, as the
  // back of the window subtracts it later.
  const size_t ring_rows = static_cast<size_t>(wc) + 1;
  float* ring = ws.ring.get(ring_rows * w);
  box_sweep(
      width, height, wc, s, [&](int r) { return static_cast<const float*>(a + r * w); },
      [&](int r) { return static_cast<const float*>(ring + (r % ring_rows) * w); },
      [&](int o, const float* sum, float c) {
        float* row = a + o * w;
        std::memcpy(ring + (o % ring_rows) * w, row, w * sizeof(float));
        divide(width, sum, c, row);
      });

  // Pass 2, rows at the sampled columns only, into `sampled` (height rows of 64).
  float* sampled = ws.sampled.get(static_cast<size_t>(height) * 64);
  r0 = 0;
  for (; r0 + kStrip <= height; r0 += kStrip)
    sample_strip(a + r0 * w, w, StripWidth{}, width, wr, first_col, t, s, sampled + r0 * 64);
  if (r0 < height)
    sample_strip(a + r0 * w, w, height - r0, width, wr, first_col, t, s, sampled + r0 * 64);

  // Pass 2, columns of `sampled`, stored only at the sampled rows.
  using Sixty4 = std::integral_constant<int, 64>;
  auto srow = [&](int r) { return static_cast<const float*>(sampled + r * 64); };
  box_sweep(Sixty4{}, height, wc, s, srow, srow, [&](int o, const float* sum, float c) {
    for (int i = first_row[o]; i < first_row[o + 1]; ++i) divide(Sixty4{}, sum, c, small[i]);
  });
}

}  // namespace safehold::pdq::detail
