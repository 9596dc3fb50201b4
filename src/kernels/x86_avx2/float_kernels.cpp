// AVX2 kernels for float weights (F32, F16 via F16C, BF16 via a 16-bit shift). Same accumulation
// pattern rule as the AVX-512 file: a row's result depends only on its length, never on how many
// rows are computed together. Tails are copied into a zero-padded block of 8.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"

namespace loam {
namespace avx2 {
namespace {

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
      // The same spot R rows on is what the next group will read: fetching it now keeps R+R
      // streams in flight instead of the R the hardware prefetcher tracks on its own.
      if (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(p + R * row_bytes), _MM_HINT_T0);
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
  if (i < n) {
    const int64_t left = n - i;
    alignas(32) float xt[8] = {0};
    std::memcpy(xt, x + i, left * sizeof(float));
    const __m256 xa = _mm256_load_ps(xt);
    for (int r = 0; r < R; ++r) {
      alignas(32) uint8_t wt[32] = {0};
      std::memcpy(wt, w + r * row_bytes + i * L::kBytes, left * L::kBytes);
      acc1[r] = _mm256_fmadd_ps(L::full(wt), xa, acc1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m256 s = _mm256_add_ps(acc0[r], acc1[r]);
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    y[r] = _mm_cvtss_f32(lo);
  }
}

template <class L>
void gemv(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
          float* y) {
  const float* xf = static_cast<const float*>(x);
  int64_t r = 0;
  for (; r + 8 <= n_rows; r += 4) dot_rows<L, 4, true>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
  for (; r + 4 <= n_rows; r += 4) dot_rows<L, 4>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
  for (; r < n_rows; ++r) dot_rows<L, 1>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
}

// One weight row against G activation rows (x + g * xs floats, results y[g * ys]): the row is
// loaded and converted once for all G, and each (row, activation) pair goes through dot_rows'
// operations in dot_rows' order, so every result equals gemv's bit for bit.
template <class L, int G>
inline void dot_row_multi(const uint8_t* w, const float* x, size_t xs, int64_t n, float* y, size_t ys) {
  __m256 acc0[G], acc1[G];
  for (int g = 0; g < G; ++g) acc0[g] = acc1[g] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 wa = L::full(w + i * L::kBytes), wb = L::full(w + (i + 8) * L::kBytes);
    for (int g = 0; g < G; ++g) {
      acc0[g] = _mm256_fmadd_ps(wa, _mm256_loadu_ps(x + g * xs + i), acc0[g]);
      acc1[g] = _mm256_fmadd_ps(wb, _mm256_loadu_ps(x + g * xs + i + 8), acc1[g]);
    }
  }
  if (i + 8 <= n) {
    const __m256 wa = L::full(w + i * L::kBytes);
    for (int g = 0; g < G; ++g) acc0[g] = _mm256_fmadd_ps(wa, _mm256_loadu_ps(x + g * xs + i), acc0[g]);
    i += 8;
  }
  if (i < n) {
    const int64_t left = n - i;
    alignas(32) uint8_t wt[32] = {0};
    std::memcpy(wt, w + i * L::kBytes, left * L::kBytes);
    const __m256 wa = L::full(wt);
    for (int g = 0; g < G; ++g) {
      alignas(32) float xt[8] = {0};
      std::memcpy(xt, x + g * xs + i, left * sizeof(float));
      acc1[g] = _mm256_fmadd_ps(wa, _mm256_load_ps(xt), acc1[g]);
    }
  }
  for (int g = 0; g < G; ++g) {
    const __m256 s = _mm256_add_ps(acc0[g], acc1[g]);
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    y[g * ys] = _mm_cvtss_f32(lo);
  }
}

// GemmFn: activation rows in groups of 4 (8 accumulators), then the rest.
template <class L>
void gemm(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
          int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const float* xf = static_cast<const float*>(x);
  const size_t xs = x_stride / sizeof(float);
  for (int t = 0; t < n_tokens; t += 4) {
    const float* xt = xf + static_cast<size_t>(t) * xs;
    float* yt = y + static_cast<size_t>(t) * y_stride;
    for (int64_t r = 0; r < n_rows; ++r) {
      const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
      switch (n_tokens - t) {
        case 1: dot_row_multi<L, 1>(row, xt, xs, n_cols, yt + r, y_stride); break;
        case 2: dot_row_multi<L, 2>(row, xt, xs, n_cols, yt + r, y_stride); break;
        case 3: dot_row_multi<L, 3>(row, xt, xs, n_cols, yt + r, y_stride); break;
        default: dot_row_multi<L, 4>(row, xt, xs, n_cols, yt + r, y_stride); break;
      }
    }
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

// RowSumFn over F32 / F16 rows: 32 outputs at a time held in four registers while every row is
// added (each output's order is the row order, whatever the block it falls in).
template <class L>
void row_sum(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n,
             float* y) {
  int64_t i = 0;
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

}  // namespace

void register_quant_kernels(KernelTable& table);  // quant_kernels.cpp

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
  register_quant_kernels(table);
}

}  // namespace avx2
}  // namespace loam
