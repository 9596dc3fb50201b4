// AVX2 kernels for float weights (F32, F16 via F16C, BF16 via a 16-bit shift). Same accumulation
// pattern rule as the AVX-512 file: a row's result depends only on its length, never on how many
// rows are computed together. Tails are copied into a zero-padded block of 8.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/kernel_table.h"

namespace loam {
namespace avx2 {
namespace {

// Two float orders, by row length. Short rows (at most kShortRow columns: attention's key rows)
// keep two accumulators per row (dot_rows: the first and second 8 of every 16 columns), which
// halves the dependency chain of a row that has few steps. Long rows (the weight matrices) keep
// one accumulator per row, 8 columns a step (dot_rows_long), which is what gemm's register tile
// wants: 4 weight rows against 3 activation rows, 12 accumulators, 3 activation vectors and a
// weight vector fill the 16 registers, and 7 loads (4 conversions) feed 12 fused multiply-adds, over
// whole rows in one pass. Measured on the AVX2 EPYC (one thread, 512 activation rows, 32 x 2048 /
// 16 x 5632 / 32 x 5632 F16): 46.9 / 47.3 / 46.2 GMAC/s (the core's FMA peak is 51), where the
// previous tile, which kept both accumulators of the short-row order and so ran over each block of
// 1024 columns twice (one accumulator per pass, each weight converted twice), did 41.9 / 39.9 /
// 40.8; 3 x 4 tiles did 40.6 on the first shape, 2 x 6 26.
constexpr int kGemmRows = 4, kGemmTokens = 3;
constexpr int64_t kShortRow = 256;  // columns up to which gemm_short_rows is used instead

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m256 full(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 full(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m256 full(const uint8_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
};

// Sum of the 8 lanes of v: (l0+l4 + l2+l6) + (l1+l5 + l3+l7).
inline float hsum8(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// acc[r] += row r's last n - i columns (0 < n - i < 8) times x's, both through zero-padded copies.
template <class L, int R>
inline void fma_padded_tail(const uint8_t* w, size_t row_bytes, const float* x, int64_t i, int64_t n,
                            __m256 acc[R]) {
  const int64_t left = n - i;
  alignas(32) float xt[8] = {0};
  std::memcpy(xt, x + i, left * sizeof(float));
  const __m256 xa = _mm256_load_ps(xt);
  for (int r = 0; r < R; ++r) {
    alignas(32) uint8_t wt[32] = {0};
    std::memcpy(wt, w + r * row_bytes + i * L::kBytes, left * L::kBytes);
    acc[r] = _mm256_fmadd_ps(L::full(wt), xa, acc[r]);
  }
}

// The short-row order: two accumulators per row, the first and second 8 of every 16 columns.
template <class L, int R, bool kPrefetch = false>
inline void dot_rows(const uint8_t* w, size_t row_bytes, const float* x, int64_t n, float* y) {
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    const __m256 xb = _mm256_loadu_ps(x + i + 8);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * row_bytes + i * L::kBytes;
      // The same spot 2R rows on is what the group after next will read: fetching it now keeps
      // more streams in flight than the R the hardware prefetcher tracks on its own. F16 tg64,
      // TinyLlama shape, 3 alternating rounds (AVX2 EPYC): R rows ahead 19.3-19.5 tok/s, 2R
      // 19.7-19.9, 4R 19.2-19.4, none 17.7-18.0.
      if (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(p + 2 * R * row_bytes), _MM_HINT_T0);
      acc0[r] = _mm256_fmadd_ps(L::full(p), xa, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(L::full(p + 8 * L::kBytes), xb, acc1[r]);
    }
  }
  if (i + 8 <= n) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    for (int r = 0; r < R; ++r)
      acc0[r] = _mm256_fmadd_ps(L::full(w + r * row_bytes + i * L::kBytes), xa, acc0[r]);
    i += 8;
  }
  if (i < n) fma_padded_tail<L, R>(w, row_bytes, x, i, n, acc1);
  for (int r = 0; r < R; ++r) y[r] = hsum8(_mm256_add_ps(acc0[r], acc1[r]));
}

// The long-row order: one accumulator per row, acc += w[i..i+8) * x[i..i+8) for i = 0, 8, ...,
// the last n % 8 columns through zero-padded copies, then hsum8.
template <class L, int R, bool kPrefetch = false>
inline void dot_rows_long(const uint8_t* w, size_t row_bytes, const float* x, int64_t n, float* y) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    const __m256 xb = _mm256_loadu_ps(x + i + 8);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * row_bytes + i * L::kBytes;
      // As in dot_rows: the same spot 2R rows on, for the group after next.
      if (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(p + 2 * R * row_bytes), _MM_HINT_T0);
      acc[r] = _mm256_fmadd_ps(L::full(p), xa, acc[r]);
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(L::full(w + r * row_bytes + (i + 8) * L::kBytes), xb, acc[r]);
  }
  if (i + 8 <= n) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(L::full(w + r * row_bytes + i * L::kBytes), xa, acc[r]);
    i += 8;
  }
  if (i < n) fma_padded_tail<L, R>(w, row_bytes, x, i, n, acc);
  for (int r = 0; r < R; ++r) y[r] = hsum8(acc[r]);
}

template <class L>
void gemv(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
          float* y) {
  const float* xf = static_cast<const float*>(x);
  int64_t r = 0;
  if (n_cols <= kShortRow) {
    for (; r + 12 <= n_rows; r += 4) dot_rows<L, 4, true>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
    for (; r + 4 <= n_rows; r += 4) dot_rows<L, 4>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
    for (; r < n_rows; ++r) dot_rows<L, 1>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
    return;
  }
  for (; r + 12 <= n_rows; r += 4) dot_rows_long<L, 4, true>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
  for (; r + 4 <= n_rows; r += 4) dot_rows_long<L, 4>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
  for (; r < n_rows; ++r) dot_rows_long<L, 1>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
}

// R weight rows (row_bytes apart) of n columns against G activation rows (x + g * xs floats),
// added into the pairs' accumulators acc0/acc1 [R][G] in dot_rows' operations and order. Each
// weight vector is loaded and converted once for the G activation rows, each activation vector
// once for the R weight rows.
template <class L, int R, int G>
inline void dot_tile(const uint8_t* w, size_t row_bytes, const float* x, size_t xs, int64_t n,
                     __m256 acc0[R][G], __m256 acc1[R][G]) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = L::full(w + r * row_bytes + i * L::kBytes);
    for (int g = 0; g < G; ++g) {
      const __m256 xv = _mm256_loadu_ps(x + g * xs + i);
      for (int r = 0; r < R; ++r) acc0[r][g] = _mm256_fmadd_ps(wv[r], xv, acc0[r][g]);
    }
    for (int r = 0; r < R; ++r) wv[r] = L::full(w + r * row_bytes + (i + 8) * L::kBytes);
    for (int g = 0; g < G; ++g) {
      const __m256 xv = _mm256_loadu_ps(x + g * xs + i + 8);
      for (int r = 0; r < R; ++r) acc1[r][g] = _mm256_fmadd_ps(wv[r], xv, acc1[r][g]);
    }
  }
  if (i + 8 <= n) {
    for (int r = 0; r < R; ++r) {
      const __m256 wa = L::full(w + r * row_bytes + i * L::kBytes);
      for (int g = 0; g < G; ++g) acc0[r][g] = _mm256_fmadd_ps(wa, _mm256_loadu_ps(x + g * xs + i), acc0[r][g]);
    }
    i += 8;
  }
  if (i < n) {
    const int64_t left = n - i;
    for (int r = 0; r < R; ++r) {
      alignas(32) uint8_t wt[32] = {0};
      std::memcpy(wt, w + r * row_bytes + i * L::kBytes, left * L::kBytes);
      const __m256 wa = L::full(wt);
      for (int g = 0; g < G; ++g) {
        alignas(32) float xt[8] = {0};
        std::memcpy(xt, x + g * xs + i, left * sizeof(float));
        acc1[r][g] = _mm256_fmadd_ps(wa, _mm256_load_ps(xt), acc1[r][g]);
      }
    }
  }
}

// The pairs' results (row r, activation g at y[r + g * ys]), summed as dot_rows sums a row's
// accumulators.
template <int R, int G>
inline void finish_tile(const __m256 acc0[R][G], const __m256 acc1[R][G], float* y, size_t ys) {
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) y[r + g * ys] = hsum8(_mm256_add_ps(acc0[r][g], acc1[r][g]));
  }
}

// Rows [0, n_rows) against G activation rows, R weight rows at a time (n_rows a multiple of R):
// every (row, activation) pair goes through dot_rows' operations in dot_rows' order, so every
// result equals gemv's bit for bit. Used for short rows only (at most kShortRow columns, in L1).
template <class L, int R, int G>
inline void rows_tile(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, size_t xs,
                      int64_t n, float* y, size_t ys) {
  for (int64_t row = 0; row + R <= n_rows; row += R) {
    __m256 acc0[R][G], acc1[R][G];
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < G; ++g) acc0[r][g] = acc1[r][g] = _mm256_setzero_ps();
    dot_tile<L, R, G>(w + static_cast<size_t>(row) * row_bytes, row_bytes, x, xs, n, acc0, acc1);
    finish_tile<R, G>(acc0, acc1, y + row, ys);
  }
}

// R weight rows against G activation rows, in dot_rows_long's operations and order: every result
// equals gemv's bit for bit. Whole rows at a time: splitting the columns into blocks of 1024 (so
// that the G activation rows stayed in L1 while a band of 32 weight rows went through them, their
// accumulators waiting in memory) measured slower on the AVX2 EPYC (one thread, 32 x 2048 / 16 x
// 5632 / 32 x 5632 F16 against 512 activation rows: 43-44 GMAC/s against 47-48 without blocks).
template <class L, int R, int G>
inline void tile_long(const uint8_t* w, size_t row_bytes, const float* x, size_t xs, int64_t n, float* y,
                      size_t ys) {
  __m256 acc[R][G];
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) acc[r][g] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if constexpr (R <= G) {  // the R weight vectors in registers, one activation vector at a time
      __m256 wv[R];
      for (int r = 0; r < R; ++r) wv[r] = L::full(w + r * row_bytes + i * L::kBytes);
      for (int g = 0; g < G; ++g) {
        const __m256 xv = _mm256_loadu_ps(x + g * xs + i);
        for (int r = 0; r < R; ++r) acc[r][g] = _mm256_fmadd_ps(wv[r], xv, acc[r][g]);
      }
    } else {  // the G activation vectors in registers, one weight vector at a time
      __m256 xv[G];
      for (int g = 0; g < G; ++g) xv[g] = _mm256_loadu_ps(x + g * xs + i);
      for (int r = 0; r < R; ++r) {
        const __m256 wv = L::full(w + r * row_bytes + i * L::kBytes);
        for (int g = 0; g < G; ++g) acc[r][g] = _mm256_fmadd_ps(wv, xv[g], acc[r][g]);
      }
    }
  }
  if (i < n) {
    const int64_t left = n - i;
    alignas(32) float xt[G][8] = {};
    for (int g = 0; g < G; ++g) std::memcpy(xt[g], x + g * xs + i, left * sizeof(float));
    for (int r = 0; r < R; ++r) {
      alignas(32) uint8_t wt[32] = {0};
      std::memcpy(wt, w + r * row_bytes + i * L::kBytes, left * L::kBytes);
      const __m256 wa = L::full(wt);
      for (int g = 0; g < G; ++g) acc[r][g] = _mm256_fmadd_ps(wa, _mm256_load_ps(xt[g]), acc[r][g]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) y[r + g * ys] = hsum8(acc[r][g]);
}

// Long rows [0, n_rows) against G activation rows, R rows at a time, then one at a time.
template <class L, int R, int G>
inline void rows_tile_long(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x,
                           size_t xs, int64_t n, float* y, size_t ys) {
  int64_t row = 0;
  for (; row + R <= n_rows; row += R)
    tile_long<L, R, G>(w + static_cast<size_t>(row) * row_bytes, row_bytes, x, xs, n, y + row, ys);
  for (; row < n_rows; ++row)
    tile_long<L, 1, G>(w + static_cast<size_t>(row) * row_bytes, row_bytes, x, xs, n, y + row, ys);
}

// Short rows (attention's key rows: head_dim columns, many rows) against the query heads of a
// group: each row is loaded once for 4 activation rows. The 3 x 2 tile measured 7% slower there
// (decode at depth 2048, Q4_0 TinyLlama shape): its rows are short and the key rows, read by 4
// pairs of heads instead of 2 groups of 4, come from L2.
template <class L>
void gemm_short_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, size_t xs,
                     int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  for (int t = 0; t < n_tokens; t += 4) {
    const float* xt = x + static_cast<size_t>(t) * xs;
    float* yt = y + static_cast<size_t>(t) * y_stride;
    switch (n_tokens - t) {
      case 1: rows_tile<L, 1, 1>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride); break;
      case 2: rows_tile<L, 1, 2>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride); break;
      case 3: rows_tile<L, 1, 3>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride); break;
      default: rows_tile<L, 1, 4>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride); break;
    }
  }
}

// GemmFn: activation rows kGemmTokens at a time against kGemmRows weight rows at a time; the
// rows left over go in pairs, so that a lone row (a 64-token step leaves one) is never run by
// itself: 4 left are 2 + 2, since one activation row keeps only 4 accumulators busy.
template <class L>
void gemm(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
          int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const float* xf = static_cast<const float*>(x);
  const size_t xs = x_stride / sizeof(float);
  if (n_cols <= kShortRow) {
    gemm_short_rows<L>(w, row_bytes, n_rows, xf, xs, n_tokens, n_cols, y, y_stride);
    return;
  }
  static_assert(kGemmTokens == 3, "the grouping below is written for groups of 3");
  for (int t = 0; t < n_tokens;) {
    const float* xt = xf + static_cast<size_t>(t) * xs;
    float* yt = y + static_cast<size_t>(t) * y_stride;
    const int left = n_tokens - t;
    const int group = left == 4 || left == 2 ? 2 : left == 1 ? 1 : 3;
    if (group == 3) rows_tile_long<L, kGemmRows, 3>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride);
    if (group == 2) rows_tile_long<L, kGemmRows, 2>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride);
    if (group == 1) rows_tile_long<L, kGemmRows, 1>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride);
    t += group;
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float y;
  dot_rows<LoadF32, 1>(reinterpret_cast<const uint8_t*>(a), 0, b, n, &y);
  return y;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

// RowSumFn over F32 / F16 rows: 64 outputs at a time held in eight registers while every row is
// added, then 32 in four (each output's order is the row order, whatever the block it falls in).
// Each pass reads every row once: a 128-value head (Llama 2 7B, whose cache rows of 4096 values
// put a head's rows 8 KiB apart) takes two passes instead of four.
template <class L>
void row_sum(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n,
             float* y) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m256 acc[8];
    for (__m256& v : acc) v = _mm256_setzero_ps();
    const uint8_t* p = rows + i * L::kBytes;
    for (int64_t r = 0; r < n_rows; ++r, p += row_bytes) {
      const __m256 va = _mm256_set1_ps(a[r]);
      for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(va, L::full(p + 8 * k * L::kBytes), acc[k]);
    }
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(y + i + 8 * k, acc[k]);
  }
  for (; i + 32 <= n; i += 32) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const uint8_t* p = rows + i * L::kBytes;
    for (int64_t r = 0; r < n_rows; ++r, p += row_bytes) {
      const __m256 va = _mm256_set1_ps(a[r]);
      acc0 = _mm256_fmadd_ps(va, L::full(p), acc0);
      acc1 = _mm256_fmadd_ps(va, L::full(p + 8 * L::kBytes), acc1);
      acc2 = _mm256_fmadd_ps(va, L::full(p + 16 * L::kBytes), acc2);
      acc3 = _mm256_fmadd_ps(va, L::full(p + 24 * L::kBytes), acc3);
    }
    _mm256_storeu_ps(y + i, acc0);
    _mm256_storeu_ps(y + i + 8, acc1);
    _mm256_storeu_ps(y + i + 16, acc2);
    _mm256_storeu_ps(y + i + 24, acc3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_setzero_ps();
    const uint8_t* p = rows + i * L::kBytes;
    for (int64_t r = 0; r < n_rows; ++r, p += row_bytes)
      acc = _mm256_fmadd_ps(_mm256_set1_ps(a[r]), L::full(p), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  if (i < n) {  // the last n % 8 outputs through a zero-padded copy of each row's tail
    const int64_t left = n - i;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) {
      alignas(32) uint8_t tail[8 * 4] = {0};
      std::memcpy(tail, rows + static_cast<size_t>(r) * row_bytes + i * L::kBytes,
                  static_cast<size_t>(left) * L::kBytes);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(a[r]), L::full(tail), acc);
    }
    alignas(32) float out[8];
    _mm256_store_ps(out, acc);
    std::memcpy(y + i, out, static_cast<size_t>(left) * sizeof(float));
  }
}

// Rows [r0, r1) of one head added into its outputs [i, i + 8 C): C accumulators loaded from y
// (zeroed before the first block), one broadcast weight per row. So each output gets row_sum's
// fused multiply-adds in row order, whatever the blocks. The unroll pragmas keep GCC 12 from
// turning the loads and stores of acc into block copies, which put acc in memory and stored all C
// registers on every row (the block then ran at half speed).
template <class L, int C>
inline void row_sum_block(const float* a, const uint8_t* rows, size_t row_bytes, int64_t r0, int64_t r1,
                          int64_t i, float* y) {
  __m256 acc[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) acc[c] = _mm256_loadu_ps(y + i + 8 * c);
  const uint8_t* p = rows + static_cast<size_t>(r0) * row_bytes + i * L::kBytes;
  for (int64_t r = r0; r < r1; ++r, p += row_bytes) {
    const __m256 w = _mm256_broadcast_ss(a + r);
    for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_ps(w, L::full(p + 8 * c * L::kBytes), acc[c]);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(y + i + 8 * c, acc[c]);
}

// Rows per block: one block of a head's values (32 rows of 64-128 F16 values) stays in L1 while
// each head of the group, and each 64 outputs of a head, passes over it.
constexpr int64_t kRowSumBlock = 32;

// RowSumHeadsFn: blocks of rows; within a block each head in turn, 64 outputs at a time in eight
// registers (then 32, then 8); row_sum for the last n % 8 outputs. Measured in a one-thread
// microbenchmark on the AVX2 EPYC, per layer at depth 4096 (F16, both versions at -O3): 8 heads x
// 64 values (TinyLlama's GQA group) 370 -> 288-294 us against 8 heads per pass over all rows with
// one register per head; tiles of 4 heads x 16 values took 490-500 (each row's values loaded once
// for 4 heads, yet slower: four weight streams per row); 1 head x 128 values with rows 8 KiB apart
// (Llama 2 7B, no GQA) 3.8-3.9 -> 3.0-3.2 ms against row_sum's pass over all rows. Blocks of 64
// rows were level on the first shape and slower on the second.
template <class L>
void row_sum_heads(const float* a, size_t a_stride, int n_heads, const uint8_t* rows, size_t row_bytes,
                   int64_t n_rows, int64_t n, float* y, size_t y_stride) {
  const int64_t full = n - n % 8;
  if (full > 0) {
    for (int h = 0; h < n_heads; ++h) std::memset(y + h * y_stride, 0, static_cast<size_t>(full) * sizeof(float));
    for (int64_t r0 = 0; r0 < n_rows;) {
      const int64_t r1 = n_rows - r0 > kRowSumBlock ? r0 + kRowSumBlock : n_rows;  // no std::min here (check_isa_symbols.sh)
      for (int h = 0; h < n_heads; ++h) {
        const float* ah = a + h * a_stride;
        float* yh = y + h * y_stride;
        int64_t i = 0;
        for (; i + 64 <= full; i += 64) row_sum_block<L, 8>(ah, rows, row_bytes, r0, r1, i, yh);
        for (; i + 32 <= full; i += 32) row_sum_block<L, 4>(ah, rows, row_bytes, r0, r1, i, yh);
        for (; i < full; i += 8) row_sum_block<L, 1>(ah, rows, row_bytes, r0, r1, i, yh);
      }
      r0 = r1;
    }
  }
  if (full < n)
    for (int h = 0; h < n_heads; ++h)
      row_sum<L>(a + h * a_stride, rows + full * L::kBytes, row_bytes, n_rows, n - full, y + h * y_stride + full);
}

}  // namespace

void register_quant_kernels(KernelTable& table);       // quant_kernels.cpp
void register_activation_kernels(KernelTable& table);  // activation_kernels.cpp

void register_kernels(KernelTable& table) {
  table.weights[static_cast<uint32_t>(DType::F32)].gemv = gemv<LoadF32>;
  table.weights[static_cast<uint32_t>(DType::F16)].gemv = gemv<LoadF16>;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemv = gemv<LoadBF16>;
  table.weights[static_cast<uint32_t>(DType::F32)].gemm = gemm<LoadF32>;
  table.weights[static_cast<uint32_t>(DType::F16)].gemm = gemm<LoadF16>;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemm = gemm<LoadBF16>;
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
  table.row_sum[static_cast<uint32_t>(DType::F32)] = row_sum<LoadF32>;
  table.row_sum[static_cast<uint32_t>(DType::F16)] = row_sum<LoadF16>;
  table.row_sum_heads[static_cast<uint32_t>(DType::F32)] = row_sum_heads<LoadF32>;
  table.row_sum_heads[static_cast<uint32_t>(DType::F16)] = row_sum_heads<LoadF16>;
  register_quant_kernels(table);
  register_activation_kernels(table);
}

}  // namespace avx2
}  // namespace loam
