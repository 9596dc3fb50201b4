// AVX2 scale searches of the K quantizers: the 8 sub-blocks of a Q4_K / Q5_K super-block searched
// side by side, sub-block j in lane j (and Q6_K's 16 groups, 8 at a time). Each lane performs exactly the scalar search's operations
// (quant/quant_k_llamacpp.cpp, fit_affine), in the same order, so every scale, offset and code is
// bit-identical to it, and hence to llama-quantize's. The scalar search is one long chain of
// dependent additions per candidate (its sums must stay sequential to keep llama-quantize's bytes);
// across sub-blocks nothing depends, so eight chains run in the time of one.
//
// Built with -ffp-contract=off (CMakeLists.txt): GCC would otherwise fuse the multiplications and
// additions below into fused multiply-adds, which round once where the scalar search rounds twice.
#include <immintrin.h>

#include <cstdint>

#include "kernels/kernel_table.h"

namespace loam {
namespace avx2 {
namespace {

constexpr int kSub = 32;       // elements per sub-block
constexpr int kSubBlocks = 8;  // sub-blocks per super-block: one per lane

// round_nearest (quant/quantize.h) on 8 lanes: the same addition of 1.5 * 2^23, the same bits.
inline __m256i round_nearest8(__m256 v) {
  const __m256 shifted = _mm256_add_ps(v, _mm256_set1_ps(12582912.0f));
  const __m256i bits =
      _mm256_and_si256(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x007fffff));
  return _mm256_sub_epi32(bits, _mm256_set1_epi32(0x00400000));
}

// The code of x under inverse scale iscale and offset lo, clamped to [0, nmax], as a float (the
// scalar search converts its uint8_t codes to float wherever it multiplies by them).
inline __m256 code8(__m256 iscale, __m256 x, __m256 lo, __m256i nmax) {
  __m256i l = round_nearest8(_mm256_mul_ps(iscale, _mm256_sub_ps(x, lo)));
  l = _mm256_max_epi32(_mm256_setzero_si256(), _mm256_min_epi32(nmax, l));
  return _mm256_cvtepi32_ps(l);
}

// sum + w * (scale * code + lo - x)^2: one term of the weighted squared error, in the scalar order.
inline __m256 add_error(__m256 sum, __m256 w, __m256 scale, __m256 code, __m256 lo, __m256 x) {
  __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, code), lo), x);
  diff = _mm256_mul_ps(diff, diff);
  return _mm256_add_ps(sum, _mm256_mul_ps(w, diff));
}

void fit_k_sub_blocks(const float* x, int nmax, float rmin, float rdelta, int nstep,
                      float* scales, float* neg_mins, uint8_t* L) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256i nmax_i = _mm256_set1_epi32(nmax);
  const __m256i lane_offsets = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);

  // xt[i] holds element i of every sub-block; the weights are the scalar search's av_x + |x|.
  __m256 xt[kSub], wt[kSub];
  __m256 sum_x2 = zero;
  for (int i = 0; i < kSub; ++i) {
    xt[i] = _mm256_i32gather_ps(x + i, lane_offsets, 4);
    sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(xt[i], xt[i]));
  }
  const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(kSub)));
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int i = 0; i < kSub; ++i) wt[i] = _mm256_add_ps(av_x, _mm256_and_ps(xt[i], abs_mask));

  __m256 lo = xt[0], hi = xt[0];
  __m256 sum_w = wt[0];
  __m256 sum_x = _mm256_mul_ps(sum_w, xt[0]);
  for (int i = 1; i < kSub; ++i) {
    lo = _mm256_min_ps(xt[i], lo);  // xt[i] where xt[i] < lo, as the scalar comparison
    hi = _mm256_max_ps(xt[i], hi);
    sum_w = _mm256_add_ps(sum_w, wt[i]);
    sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(wt[i], xt[i]));
  }
  lo = _mm256_blendv_ps(lo, zero, _mm256_cmp_ps(lo, zero, _CMP_GT_OQ));
  // Lanes with hi == lo are constant sub-blocks: the scalar search returns scale 0, codes 0 and
  // offset -lo for them at once. Here they run the search on infinities and are replaced at the end.
  const __m256 constant = _mm256_cmp_ps(hi, lo, _CMP_EQ_OQ);
  const __m256 lo_first = lo;

  __m256 iscale = _mm256_div_ps(_mm256_set1_ps(static_cast<float>(nmax)), _mm256_sub_ps(hi, lo));
  __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
  __m256 best_error = zero;
  __m256 best[kSub], trial[kSub];
  for (int i = 0; i < kSub; ++i) {
    best[i] = code8(iscale, xt[i], lo, nmax_i);
    best_error = add_error(best_error, wt[i], scale, best[i], lo, xt[i]);
  }

  for (int is = 0; is <= nstep; ++is) {
    const float numerator = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
    iscale = _mm256_div_ps(_mm256_set1_ps(numerator), _mm256_sub_ps(hi, lo));
    __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < kSub; ++i) {
      trial[i] = code8(iscale, xt[i], lo, nmax_i);
      const __m256 wl = _mm256_mul_ps(wt[i], trial[i]);
      sum_l = _mm256_add_ps(sum_l, wl);
      sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, trial[i]));
      sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, xt[i]));
    }
    const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
    // Lanes with det <= 0 skip the candidate in the scalar search; here they compute it and
    // discard it (a division by zero or a negative det yields values that never win).
    __m256 this_scale = _mm256_div_ps(
        _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), det);
    __m256 this_min = _mm256_div_ps(
        _mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), det);
    const __m256 positive_min = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
    this_min = _mm256_blendv_ps(this_min, zero, positive_min);
    this_scale = _mm256_blendv_ps(this_scale, _mm256_div_ps(sum_xl, sum_l2), positive_min);
    __m256 cur_error = zero;
    for (int i = 0; i < kSub; ++i)
      cur_error = add_error(cur_error, wt[i], this_scale, trial[i], this_min, xt[i]);
    const __m256 win = _mm256_and_ps(_mm256_cmp_ps(det, zero, _CMP_GT_OQ),
                                     _mm256_cmp_ps(cur_error, best_error, _CMP_LT_OQ));
    if (_mm256_movemask_ps(win) == 0) continue;
    for (int i = 0; i < kSub; ++i) best[i] = _mm256_blendv_ps(best[i], trial[i], win);
    best_error = _mm256_blendv_ps(best_error, cur_error, win);
    scale = _mm256_blendv_ps(scale, this_scale, win);
    lo = _mm256_blendv_ps(lo, this_min, win);
  }

  scale = _mm256_blendv_ps(scale, zero, constant);
  lo = _mm256_blendv_ps(lo, lo_first, constant);
  _mm256_storeu_ps(scales, scale);
  _mm256_storeu_ps(neg_mins, _mm256_xor_ps(lo, _mm256_set1_ps(-0.0f)));
  alignas(32) int32_t codes[kSub][kSubBlocks];
  for (int i = 0; i < kSub; ++i) {
    const __m256 c = _mm256_blendv_ps(best[i], zero, constant);
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes[i]), _mm256_cvttps_epi32(c));
  }
  for (int j = 0; j < kSubBlocks; ++j)
    for (int i = 0; i < kSub; ++i) L[kSub * j + i] = static_cast<uint8_t>(codes[i][j]);
}

// Q6_K: the symmetric search (quant/quant_k_llamacpp.cpp, fit_symmetric) of the 16 groups of 16
// of a super-block, groups 0-7 then 8-15 in the lanes, with the scalar search's operations.
constexpr int kGroup = 16;

void fit_q6_k_half(const float* x, int nmax, float* scales, int8_t* L) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i lo_code = _mm256_set1_epi32(-nmax), hi_code = _mm256_set1_epi32(nmax - 1);
  const __m256i lane_offsets = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
  __m256 xt[kGroup];
  __m256 extreme = zero, amax = zero;
  for (int i = 0; i < kGroup; ++i) {
    xt[i] = _mm256_i32gather_ps(x + i, lane_offsets, 4);
    const __m256 ax = _mm256_and_ps(xt[i], abs_mask);
    const __m256 larger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
    amax = _mm256_blendv_ps(amax, ax, larger);
    extreme = _mm256_blendv_ps(extreme, xt[i], larger);
  }
  // Lanes below the scalar search's all-zero threshold get scale 0 and L = 0, as there.
  const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);

  // sumlx = sum (x^2 x) l and suml2 = sum (x^2 l) l over the group, for the codes under iscale.
  auto sums = [&](__m256 iscale, __m256i* codes, __m256& sumlx, __m256& suml2) {
    sumlx = zero;
    suml2 = zero;
    for (int i = 0; i < kGroup; ++i) {
      __m256i l = round_nearest8(_mm256_mul_ps(iscale, xt[i]));
      l = _mm256_max_epi32(lo_code, _mm256_min_epi32(hi_code, l));
      codes[i] = l;
      const __m256 w = _mm256_mul_ps(xt[i], xt[i]);
      const __m256 fl = _mm256_cvtepi32_ps(l);
      sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w, xt[i]), fl));
      suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w, fl), fl));
    }
  };

  __m256i best[kGroup], trial[kGroup];
  __m256 sumlx, suml2;
  sums(_mm256_div_ps(_mm256_set1_ps(static_cast<float>(-nmax)), extreme), best, sumlx, suml2);
  const __m256 suml2_zero = _mm256_cmp_ps(suml2, zero, _CMP_EQ_OQ);
  __m256 scale = _mm256_blendv_ps(_mm256_div_ps(sumlx, suml2), zero, suml2_zero);
  __m256 best_score = _mm256_mul_ps(scale, sumlx);
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float numerator = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
    sums(_mm256_div_ps(_mm256_set1_ps(numerator), extreme), trial, sumlx, suml2);
    const __m256 win =
        _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
                      _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best_score, suml2), _CMP_GT_OQ));
    if (_mm256_movemask_ps(win) == 0) continue;
    const __m256i win_i = _mm256_castps_si256(win);
    for (int i = 0; i < kGroup; ++i) best[i] = _mm256_blendv_epi8(best[i], trial[i], win_i);
    const __m256 this_scale = _mm256_div_ps(sumlx, suml2);
    scale = _mm256_blendv_ps(scale, this_scale, win);
    best_score = _mm256_blendv_ps(best_score, _mm256_mul_ps(this_scale, sumlx), win);
  }

  _mm256_storeu_ps(scales, _mm256_blendv_ps(scale, zero, all_zero));
  const __m256i zero_lanes = _mm256_castps_si256(all_zero);
  alignas(32) int32_t codes[kGroup][8];
  for (int i = 0; i < kGroup; ++i) {
    const __m256i c = _mm256_add_epi32(best[i], _mm256_set1_epi32(nmax));
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes[i]),
                       _mm256_andnot_si256(zero_lanes, c));
  }
  for (int g = 0; g < 8; ++g)
    for (int i = 0; i < kGroup; ++i) L[kGroup * g + i] = static_cast<int8_t>(codes[i][g]);
}

void fit_q6_k_groups(const float* x, int nmax, float* scales, int8_t* L) {
  fit_q6_k_half(x, nmax, scales, L);
  fit_q6_k_half(x + 8 * kGroup, nmax, scales + 8, L + 8 * kGroup);
}

}  // namespace

void register_k_scale_search(KernelTable& table) {
  table.fit_k_sub_blocks = fit_k_sub_blocks;
  table.fit_q6_k_groups = fit_q6_k_groups;
}

}  // namespace avx2
}  // namespace loam
