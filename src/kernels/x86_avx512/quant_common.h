// Helpers shared by the AVX-512 quantized-dot translation units. Included only by files compiled
// with the AVX-512 flags (or, for the tests, with the emulation of simd.h); everything is in an
// anonymous namespace (internal linkage), so no copy of these functions can be merged by the
// linker into generic code.
//
// The kernels follow the AVX2 ones (x86_avx2/quant_common.h): groups of 8 rows, rows past the end
// repeat the last row, the activation block is prepared once per block for the whole group, and
// a row's float operations never mix with another row's, so its result does not depend on the
// group (or thread) it is computed in. The integer work uses VNNI: vpdpbusd adds four
// unsigned x signed byte products into each int32 lane, with no intermediate int16 and so no
// saturation to reason about. Sub-block scales are applied with vpdpwssd on those int32 lanes:
// every lane here stays below 2^15 in magnitude, so its low int16 word is the whole value, and a
// scale in the low word of the other operand (high word 0) gives lane * scale exactly.
//
// The float operations per row are the scalar kernels' (kernels/scalar/quant_kernels.cpp), one for
// one, for every type: Q8_0 and Q5_K keep the scalar kernel's eight float lanes per row (two rows
// per 512-bit register), the others run one float lane per row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/row_groups.h"
#include "kernels/x86_avx512/simd.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

inline __m128i load_128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256i load_256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i load_512(const void* p) { return _mm512_loadu_si512(p); }

// [lo | hi]: two 256-bit halves in one register.
inline __m512i join_256(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// int32 lanes 0..7 = i, lanes 8..15 = j: permutexvar indices picking element i, then j.
inline __m512i pair_index(int i, int j) {
  return join_256(_mm256_set1_epi32(i), _mm256_set1_epi32(j));
}

// The f16 at byte offset `off` of each of the 8 rows, as 8 floats (lane r = row r).
inline __m256 gather_fp16(const uint8_t* const rows[kRowLanes], size_t off) {
  alignas(16) uint16_t h[kRowLanes];
  for (int r = 0; r < kRowLanes; ++r) h[r] = load_u16(rows[r] + off);
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
}

// Sums of halves: the int32 lanes of the result sum to the lanes of v.
inline __m256i fold_256(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}
inline __m128i fold_128(__m256i v) {
  return _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

// Lane r of the result = sum of the 4 int32 lanes of v[r].
inline __m256i row_sums(const __m128i v[kRowLanes]) {
  __m128i half[2];  // [rows 0..3], [rows 4..7]
  for (int h = 0; h < 2; ++h) {
    const __m128i* u = v + 4 * h;
    // [u0_0+u0_2, u1_0+u1_2, u0_1+u0_3, u1_1+u1_3] and the same for rows 2, 3
    const __m128i t01 = _mm_add_epi32(_mm_unpacklo_epi32(u[0], u[1]), _mm_unpackhi_epi32(u[0], u[1]));
    const __m128i t23 = _mm_add_epi32(_mm_unpacklo_epi32(u[2], u[3]), _mm_unpackhi_epi32(u[2], u[3]));
    half[h] = _mm_add_epi32(_mm_unpacklo_epi64(t01, t23), _mm_unpackhi_epi64(t01, t23));
  }
  return _mm256_inserti128_si256(_mm256_castsi128_si256(half[0]), half[1], 1);
}

// The 8 floats a[0..7] summed like the scalar kernels' sum8_simd_order: a_k + a_k+4 for k < 4,
// then (r0 + r2) + (r1 + r3).
inline float sum8_order(const float* a) {
  const float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];
  return (r0 + r2) + (r1 + r3);
}

inline void store_group(__m256 acc, int64_t r0, int64_t n_rows, float* y) {
  alignas(32) float tmp[kRowLanes];
  _mm256_store_ps(tmp, acc);
  for (int64_t r = 0; r < kRowLanes && r0 + r < n_rows; ++r) y[r0 + r] = tmp[r];
}

// For kernels keeping 8 float lanes per row, two rows per register (acc[p] = [row 2p | row 2p+1]):
// y = each row's lanes summed in the scalar order, plus extra[r] when given.
inline void store_lane_rows(const __m512 acc[kRowLanes / 2], const float* extra, int64_t r0,
                            int64_t n_rows, float* y) {
  for (int p = 0; p < kRowLanes / 2; ++p) {
    alignas(64) float l[16];
    _mm512_store_ps(l, acc[p]);
    for (int h = 0; h < 2; ++h) {
      const int r = 2 * p + h;
      if (r0 + r < n_rows) y[r0 + r] = extra ? sum8_order(l + 8 * h) + extra[r] : sum8_order(l + 8 * h);
    }
  }
}

// A gemv replaced drops the gemm of the set below (kernel_table.h): that gemm gives its own gemv's
// bits, not these.
inline void set_gemv(KernelTable& table, DType weight, GemvFn fn) {
  table.weights[static_cast<uint32_t>(weight)].gemv = fn;
  table.weights[static_cast<uint32_t>(weight)].gemm = nullptr;
}

}  // namespace
}  // namespace LOAM_AVX512_NS
}  // namespace loam
