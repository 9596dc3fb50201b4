// AVX2 activation quantizers for Q8_0 and Q8_K blocks, byte for byte the scalar ones
// (quantize_act_q8_0 in kernels/scalar/quant_kernels.cpp, quantize_row_q8_K in quant/quant_k.cpp):
// same amax, same scale 127 / amax, the product x * scale rounded to float first (a plain multiply,
// never fused) and then to the nearest integer, ties to even. The portable build's scalar code
// calls std::nearbyint once per value; here cvtps2dq rounds 8 at a time in the current rounding
// mode, which is what nearbyint uses (round to nearest even unless someone changed it).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "kernels/kernel_table.h"
#include "quant/blocks.h"

namespace loam {
namespace avx2 {
namespace {

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// Largest |x[i]| of n (a multiple of 32) floats. max is exact, so the order does not matter; like
// std::max(amax, |x|) it ignores NaN inputs (maxps returns its second operand, the running max,
// when the first is NaN).
inline float abs_max(const float* x, int n) {
  __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    m0 = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + i)), m0);
    m1 = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + i + 8)), m1);
  }
  const __m256 m = _mm256_max_ps(m0, m1);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}

// 32 codes nearbyint(x[i] * scale) as bytes. The codes stay within [-127, 127] (|x| <= amax, and
// amax * (127 / amax) rounds to at most 127.00002): the saturating packs never clip.
inline __m256i quantize_32(const float* x, __m256 scale) {
  __m256i v[4];  // [8 x int32] codes of elements 8k..8k+7
  for (int k = 0; k < 4; ++k) v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), scale));
  // packs work per 128-bit half: dwords of the result are v0[0..3] v1[0..3] v2[0..3] v3[0..3]
  // v0[4..7] v1[4..7] v2[4..7] v3[4..7]; the permute puts them back in element order.
  const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
  return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quantize_act_q8_0(const float* x, void* out, int64_t n) {
  BlockQ8_0* y = static_cast<BlockQ8_0*>(out);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float amax = abs_max(x, kQK);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[b].d = fp32_to_fp16(amax / 127.0f);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), quantize_32(x, _mm256_set1_ps(id)));
  }
}

// int32 lanes: lanes 0..3 sum to the codes of bytes 0..15 of q, lanes 4..7 to bytes 16..31.
inline __m256i quad_sums(__m256i q) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
}

// Lane g = group 8h + g's sum (h = 0, 1) from the quad sums of chunks 4h..4h+3: two rounds of
// in-half pairwise adds leave [g0 g2 g4 g6 | g1 g3 g5 g7], put back in order by the permute.
inline __m256i group_sums(const __m256i s[4]) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
  return _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quantize_act_q8_K(const float* x, void* out, int64_t n) {
  BlockQ8_K* y = static_cast<BlockQ8_K*>(out);
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    const float amax = abs_max(x, kQKK);
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    const float inv = 127.0f / amax;
    const __m256 scale = _mm256_set1_ps(inv);
    __m256i quads[8];  // [chunk of 32] quad_sums
    for (int c = 0; c < kQKK / 32; ++c) {
      const __m256i q = quantize_32(x + 32 * c, scale);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + 32 * c), q);
      quads[c] = quad_sums(q);
    }
    // 16 group sums (at most 16 * 127 in magnitude: int16 without saturation)
    const __m256i sums = _mm256_permute4x64_epi64(
        _mm256_packs_epi32(group_sums(quads), group_sums(quads + 4)), _MM_SHUFFLE(3, 1, 2, 0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].bsums), sums);
    y[b].d = 1.0f / inv;
  }
}

}  // namespace

void register_quant_act_kernels(KernelTable& table) {
  table.quantize_act[static_cast<uint32_t>(DType::Q8_0)] = quantize_act_q8_0;
  table.quantize_act[static_cast<uint32_t>(DType::Q8_K)] = quantize_act_q8_K;
}

}  // namespace avx2
}  // namespace loam
