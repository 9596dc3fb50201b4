// Helpers shared by the AVX2 quantized-dot translation units. Included only by files compiled with
// -mavx2 -mfma -mf16c; everything is in an anonymous namespace (internal linkage), so no copy of
// these functions can be merged by the linker into generic code.
//
// The kernels compute 8 weight rows at once with one row per float lane ("row lanes"): per block,
// each row's integer dot product is reduced to one int32 and the 8 rows' sums are transposed into
// the 8 lanes of one vector, then converted and scaled once for all 8 rows. Lanes never mix, so a
// row's result is the same whichever group (and thread) computed it, and its float accumulation
// runs block after block. Groups of fewer than 8 rows repeat the last row in the unused lanes
// (reads that hit the cache) and drop those results. The activation block is loaded once per
// block for all 8 rows, and the per-block float work (scale conversion, multiply, accumulate) is
// done once for 8 rows instead of once per row. (Q8_0 and Q5_K used to repeat the scalar kernels'
// 8 float lanes per row; they now take one fused multiply-add per block too, their own order.)
//
// Measured on a Zen 3 (EPYC, AVX2), one thread, weights in L2: about 1.9 (Q4_0), 2.1 (Q4_1),
// 2.2 (Q4_K), 2.8 (Q8_0, Q5_K, Q6_K) and 3.5 (Q5_0, Q5_1) cycles at the nominal 2.45 GHz per 32
// weights, including the prefetches (below), which cost about 10% here and gain 1.5-2x from DRAM.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/row_groups.h"
#include "quant/blocks.h"

namespace loam {
namespace avx2 {
namespace {

inline __m256i load_256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load_128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// The f16 at byte offset `off` of each of the 8 rows, as 8 floats (lane r = row r). Inserted
// straight from memory in two independent chains of four: no general register is needed (the
// packing in general registers below takes 23 instructions and made the compiler spill row
// pointers): 9% faster for Q4_0 from cache, about 5% from DRAM.
inline __m256 gather_fp16(const uint8_t* const rows[kRowLanes], size_t off) {
  auto four_rows = [&](int r) {
    __m128i h = _mm_cvtsi32_si128(load_u16(rows[r] + off));
    h = _mm_insert_epi16(h, load_u16(rows[r + 1] + off), 1);
    h = _mm_insert_epi16(h, load_u16(rows[r + 2] + off), 2);
    return _mm_insert_epi16(h, load_u16(rows[r + 3] + off), 3);
  };
  return _mm256_cvtph_ps(_mm_unpacklo_epi64(four_rows(0), four_rows(4)));
}

// Keeps the compiler from turning integer code into vector code (the empty asm hides the value).
inline uint64_t opaque(uint64_t v) {
  __asm__("" : "+r"(v));
  return v;
}

// Makes v a register value at this point (the empty asm hides it). In the multi-token kernels GCC
// otherwise reassociates a token's integer sum across the unrolled loop: it computes every
// product first, spills them to the stack and adds them up as a tree. Pinning the running sum
// after each add keeps one chain per token in a register (Q4_0 4-token kernel: 16 spills and 16
// reloads per block gone, pp512 122 -> 144 tok/s; Q4_K_M 120 -> 152, Q5_K_M 106 -> 111; AVX2 EPYC,
// alternating). The Q6_K kernel measured 2% slower with it, so it goes without.
inline void pin(__m256i& v) { __asm__("" : "+x"(v)); }

// gather_fp16 with the halves packed in general registers, which leaves the vector scheduler to
// the dot products. Q8_0 from DRAM measured 13-18% faster this way (and no slower from cache);
// the 4-bit kernels, with more vector work per byte, the other way round.
inline __m256 gather_fp16_gpr(const uint8_t* const rows[kRowLanes], size_t off) {
  uint64_t lo = 0, hi = 0;
  for (int r = 0; r < 4; ++r) {
    lo |= opaque(load_u16(rows[r] + off)) << (16 * r);
    hi |= opaque(load_u16(rows[r + 4] + off)) << (16 * r);
  }
  return _mm256_cvtph_ps(_mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo)));
}

// Two adjacent f16 fields (at `off` and off + 2) of each of the 8 rows: one 32-bit load per row,
// converted together and then split by a float shuffle (rows are paired so that the shuffle
// leaves them in order).
inline void gather_fp16_pair(const uint8_t* const rows[kRowLanes], size_t off, __m256* first,
                             __m256* second) {
  auto four_rows = [&](int r0, int r1, int r2, int r3) {
    __m128i v = _mm_cvtsi32_si128(static_cast<int>(load_u32(rows[r0] + off)));
    v = _mm_insert_epi32(v, static_cast<int>(load_u32(rows[r1] + off)), 1);
    v = _mm_insert_epi32(v, static_cast<int>(load_u32(rows[r2] + off)), 2);
    return _mm_insert_epi32(v, static_cast<int>(load_u32(rows[r3] + off)), 3);
  };
  // [f0 s0 f1 s1 | f4 s4 f5 s5] and [f2 s2 f3 s3 | f6 s6 f7 s7] (f = first field, s = second)
  const __m256 a = _mm256_cvtph_ps(four_rows(0, 1, 4, 5));
  const __m256 b = _mm256_cvtph_ps(four_rows(2, 3, 6, 7));
  *first = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  *second = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
}

// Horizontal sums of 8 rows without vphaddd, which costs about two cycles per instruction on the
// Zen 3 this was tuned on (4x an unpack + add).
//
// Pair layout: u[k] holds partial sums of row k in lanes 0..3 and of row k + 4 in lanes 4..7.
// Lane r of the result = row r's total.
inline __m256i transpose_sum_pairs(const __m256i u[4]) {
  const __m256i t01 = _mm256_add_epi32(_mm256_unpacklo_epi32(u[0], u[1]), _mm256_unpackhi_epi32(u[0], u[1]));
  const __m256i t23 = _mm256_add_epi32(_mm256_unpacklo_epi32(u[2], u[3]), _mm256_unpackhi_epi32(u[2], u[3]));
  // t01 = [r0 r1 r0 r1 | r4 r5 r4 r5], t23 = [r2 r3 r2 r3 | r6 r7 r6 r7]
  return _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
}

// Lane r of the result = sum of the 8 int32 lanes of v[r]. Within-lane unpacks first, so that
// only one cross-lane permute is needed (vperm2i128 issues at half the rate of an unpack).
inline __m256i transpose_sum8(const __m256i v[kRowLanes]) {
  __m256i t[4];  // t[k] = [r2k r2k+1 r2k r2k+1 | same], partial sums of rows 2k and 2k + 1
  for (int k = 0; k < 4; ++k)
    t[k] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * k], v[2 * k + 1]),
                            _mm256_unpackhi_epi32(v[2 * k], v[2 * k + 1]));
  // [r0 r1 r2 r3 | r0 r1 r2 r3] and [r4 r5 r6 r7 | r4 r5 r6 r7]
  const __m256i s0 = _mm256_add_epi32(_mm256_unpacklo_epi64(t[0], t[1]), _mm256_unpackhi_epi64(t[0], t[1]));
  const __m256i s1 = _mm256_add_epi32(_mm256_unpacklo_epi64(t[2], t[3]), _mm256_unpackhi_epi64(t[2], t[3]));
  return _mm256_add_epi32(_mm256_blend_epi32(s0, s1, 0xF0), _mm256_permute2x128_si256(s0, s1, 0x21));
}

// Lane r of the result = sum of the 4 int32 lanes of v[r].
inline __m256i transpose_sum8(const __m128i v[kRowLanes]) {
  const __m256i u[4] = {_mm256_set_m128i(v[4], v[0]), _mm256_set_m128i(v[5], v[1]),
                        _mm256_set_m128i(v[6], v[2]), _mm256_set_m128i(v[7], v[3])};
  return transpose_sum_pairs(u);
}

// Sum of the 8 int32 lanes of v, in every lane.
inline __m256i broadcast_sum(__m256i v) {
  v = _mm256_add_epi32(v, _mm256_shuffle_epi32(v, 0x4E));
  v = _mm256_add_epi32(v, _mm256_shuffle_epi32(v, 0xB1));
  return _mm256_add_epi32(v, _mm256_permute2x128_si256(v, v, 0x01));
}

// The Q8_0 activation blocks [c0, c0 + nb) of NT tokens (token t at x + t * x_stride), prepared
// once per call and column chunk for every row group of the multi-token kernels: xc[t] points at
// token t's first block of the chunk, dx[t][b] is block b's scale and a_sum[t][b] = mult x the sum
// of its codes (mult: the weights' code centre, or 1 for the types with an offset m), exact in int32.
template <int NT, int64_t kBlocks>
inline void prepare_act_chunk(const uint8_t* x, size_t x_stride, int64_t c0, int64_t nb, int mult,
                              const BlockQ8_0* xc[NT], float (&dx)[NT][kBlocks], int32_t (&a_sum)[NT][kBlocks]) {
  const __m256i m = _mm256_set1_epi8(static_cast<char>(mult));
  const __m256i ones = _mm256_set1_epi16(1);
  for (int t = 0; t < NT; ++t) {
    xc[t] = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride) + c0;
    for (int64_t b = 0; b < nb; ++b) {
      dx[t][b] = _cvtsh_ss(xc[t][b].d);
      const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(m, load_256(xc[t][b].qs)), ones);
      a_sum[t][b] = _mm256_cvtsi256_si32(broadcast_sum(s));
    }
  }
}

inline void store_group(__m256 acc, int64_t r0, int64_t n_rows, float* y) {
  if (n_rows - r0 >= kRowLanes) {
    _mm256_storeu_ps(y + r0, acc);
    return;
  }
  alignas(32) float tmp[kRowLanes];
  _mm256_store_ps(tmp, acc);
  for (int64_t r = 0; r < n_rows - r0; ++r) y[r0 + r] = tmp[r];
}

}  // namespace
}  // namespace avx2
}  // namespace loam
