// The float gemv the AVX-512 files registered when ../shared/hw/avx512 was measured (commit
// 7fa5c66), written against the intrinsics model of simd_emulated.h (include that first). Dispatch
// has since given float weights the AVX2 kernels on AVX-512 CPUs (src/kernels/x86_avx512/
// float_kernels.cpp), but the hardware files' bits depend on this gemv (attention's scores over an
// f32 key cache), so test_kernels_avx512_emulated keeps it to reproduce them: the one check of the
// intrinsics model against a real CPU. Test code only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hw_7fa5c66 {

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

}  // namespace hw_7fa5c66
