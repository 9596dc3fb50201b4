// AVX-512 kernels for float weights (F32, F16 via vcvtph2ps, BF16 via a 16-bit shift).
// Each row keeps two accumulators in a fixed pattern that depends only on the row length, so a
// row's result is the same whether it is computed alone or in a group of four (results do not
// depend on how rows are split between threads).
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/simd.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m512 full(const uint8_t* p) { return _mm512_loadu_ps(p); }
  static __m512 part(const uint8_t* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m512 full(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 part(const uint8_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};

struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 full(const uint8_t* p) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 part(const uint8_t* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// Dots R consecutive rows with x.
template <class L, int R>
inline void dot_rows(const uint8_t* w, size_t row_bytes, const float* x, int64_t n, float* y) {
  __m512 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 xa = _mm512_loadu_ps(x + i);
    const __m512 xb = _mm512_loadu_ps(x + i + 16);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * row_bytes + i * L::kBytes;
      acc0[r] = _mm512_fmadd_ps(L::full(p), xa, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(L::full(p + 16 * L::kBytes), xb, acc1[r]);
    }
  }
  if (i + 16 <= n) {
    const __m512 xa = _mm512_loadu_ps(x + i);
    for (int r = 0; r < R; ++r)
      acc0[r] = _mm512_fmadd_ps(L::full(w + r * row_bytes + i * L::kBytes), xa, acc0[r]);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 xa = _mm512_maskz_loadu_ps(m, x + i);
    for (int r = 0; r < R; ++r)
      acc1[r] = _mm512_fmadd_ps(L::part(w + r * row_bytes + i * L::kBytes, m), xa, acc1[r]);
  }
  for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

template <class L>
void gemv(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
          float* y) {
  const float* xf = static_cast<const float*>(x);
  int64_t r = 0;
  // Four rows share each activation load and give eight independent FMA chains.
  for (; r + 4 <= n_rows; r += 4) dot_rows<L, 4>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
  for (; r < n_rows; ++r) dot_rows<L, 1>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float y;
  dot_rows<LoadF32, 1>(reinterpret_cast<const uint8_t*>(a), 0, b, n, &y);
  return y;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

}  // namespace

void register_quant_kernels(KernelTable& table);        // quant_kernels.cpp
void register_interleaved_kernels(KernelTable& table);  // interleaved_kernels.cpp

void register_kernels(KernelTable& table) {
  table.weights[static_cast<uint32_t>(DType::F32)].gemv = gemv<LoadF32>;
  table.weights[static_cast<uint32_t>(DType::F16)].gemv = gemv<LoadF16>;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemv = gemv<LoadBF16>;
  // The AVX2 gemm kernels give the AVX2 gemv's results, not these: per row here.
  table.weights[static_cast<uint32_t>(DType::F32)].gemm = nullptr;
  table.weights[static_cast<uint32_t>(DType::F16)].gemm = nullptr;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemm = nullptr;
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
  register_quant_kernels(table);
  register_interleaved_kernels(table);
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
