// NEON scale searches of the K quantizers, as the AVX2 ones (x86_avx2/k_scale_search.cpp) with 4
// lanes: a Q4_K / Q5_K super-block's 8 sub-blocks 4 at a time, Q6_K's 16 groups 4 at a time. Each
// lane performs exactly the scalar search's operations (quant/quant_k_llamacpp.cpp) in the same
// order, so every scale, offset and code is bit-identical to it. Comparisons and selections are
// written out where NEON's min/max would differ from the scalar `if (x < lo) lo = x` (FMIN orders
// -0 below +0; the scalar comparison keeps the first of the two).
//
// Built with -ffp-contract=off (CMakeLists.txt): GCC contracts vmulq_f32 + vaddq_f32 into FMLA
// otherwise, which rounds once where the scalar search rounds twice.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/arm_neon/register.h"

namespace loam {
namespace neon {
namespace {

constexpr int kSub = 32;    // elements per Q4_K / Q5_K sub-block
constexpr int kGroup = 16;  // elements per Q6_K group
constexpr int kLanes = 4;

// round_nearest (quant/quantize.h) on 4 lanes: the same addition of 1.5 * 2^23, the same bits.
inline int32x4_t round_nearest4(float32x4_t v) {
  const int32x4_t bits = vreinterpretq_s32_f32(vaddq_f32(v, vdupq_n_f32(12582912.0f)));
  return vsubq_s32(vandq_s32(bits, vdupq_n_s32(0x007fffff)), vdupq_n_s32(0x00400000));
}

inline bool any(uint32x4_t mask) { return vmaxvq_u32(mask) != 0; }

// The code of x under inverse scale iscale and offset lo, clamped to [0, nmax], as a float.
inline float32x4_t code4(float32x4_t iscale, float32x4_t x, float32x4_t lo, int32x4_t nmax) {
  int32x4_t l = round_nearest4(vmulq_f32(iscale, vsubq_f32(x, lo)));
  l = vmaxq_s32(vdupq_n_s32(0), vminq_s32(nmax, l));
  return vcvtq_f32_s32(l);
}

// sum + w * (scale * code + lo - x)^2, in the scalar order.
inline float32x4_t add_error(float32x4_t sum, float32x4_t w, float32x4_t scale, float32x4_t code,
                             float32x4_t lo, float32x4_t x) {
  float32x4_t diff = vsubq_f32(vaddq_f32(vmulq_f32(scale, code), lo), x);
  diff = vmulq_f32(diff, diff);
  return vaddq_f32(sum, vmulq_f32(w, diff));
}

// Sub-blocks 4p .. 4p+3 of the super-block x (lane j: sub-block 4p + j).
void fit_k_four(const float* x, int nmax, float rmin, float rdelta, int nstep, float* scales,
                float* neg_mins, uint8_t* L) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const int32x4_t nmax_i = vdupq_n_s32(nmax);
  float32x4_t xt[kSub], wt[kSub];
  float32x4_t sum_x2 = zero;
  for (int i = 0; i < kSub; ++i) {
    const float lanes[kLanes] = {x[i], x[kSub + i], x[2 * kSub + i], x[3 * kSub + i]};
    xt[i] = vld1q_f32(lanes);
    sum_x2 = vaddq_f32(sum_x2, vmulq_f32(xt[i], xt[i]));
  }
  const float32x4_t av_x = vsqrtq_f32(vdivq_f32(sum_x2, vdupq_n_f32(kSub)));
  for (int i = 0; i < kSub; ++i) wt[i] = vaddq_f32(av_x, vabsq_f32(xt[i]));

  float32x4_t lo = xt[0], hi = xt[0];
  float32x4_t sum_w = wt[0];
  float32x4_t sum_x = vmulq_f32(sum_w, xt[0]);
  for (int i = 1; i < kSub; ++i) {
    lo = vbslq_f32(vcltq_f32(xt[i], lo), xt[i], lo);
    hi = vbslq_f32(vcgtq_f32(xt[i], hi), xt[i], hi);
    sum_w = vaddq_f32(sum_w, wt[i]);
    sum_x = vaddq_f32(sum_x, vmulq_f32(wt[i], xt[i]));
  }
  lo = vbslq_f32(vcgtq_f32(lo, zero), zero, lo);
  // Constant sub-blocks (hi == lo): scale 0, codes 0, offset -lo in the scalar search.
  const uint32x4_t constant = vceqq_f32(hi, lo);
  const float32x4_t lo_first = lo;

  float32x4_t iscale = vdivq_f32(vdupq_n_f32(static_cast<float>(nmax)), vsubq_f32(hi, lo));
  float32x4_t scale = vdivq_f32(vdupq_n_f32(1.0f), iscale);
  float32x4_t best_error = zero;
  float32x4_t best[kSub], trial[kSub];
  for (int i = 0; i < kSub; ++i) {
    best[i] = code4(iscale, xt[i], lo, nmax_i);
    best_error = add_error(best_error, wt[i], scale, best[i], lo, xt[i]);
  }

  for (int is = 0; is <= nstep; ++is) {
    const float numerator = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
    iscale = vdivq_f32(vdupq_n_f32(numerator), vsubq_f32(hi, lo));
    float32x4_t sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < kSub; ++i) {
      trial[i] = code4(iscale, xt[i], lo, nmax_i);
      const float32x4_t wl = vmulq_f32(wt[i], trial[i]);
      sum_l = vaddq_f32(sum_l, wl);
      sum_l2 = vaddq_f32(sum_l2, vmulq_f32(wl, trial[i]));
      sum_xl = vaddq_f32(sum_xl, vmulq_f32(wl, xt[i]));
    }
    const float32x4_t det = vsubq_f32(vmulq_f32(sum_w, sum_l2), vmulq_f32(sum_l, sum_l));
    // Lanes with det <= 0 skip the candidate in the scalar search; here they compute and discard it.
    float32x4_t this_scale =
        vdivq_f32(vsubq_f32(vmulq_f32(sum_w, sum_xl), vmulq_f32(sum_x, sum_l)), det);
    float32x4_t this_min =
        vdivq_f32(vsubq_f32(vmulq_f32(sum_l2, sum_x), vmulq_f32(sum_l, sum_xl)), det);
    const uint32x4_t positive_min = vcgtq_f32(this_min, zero);
    this_min = vbslq_f32(positive_min, zero, this_min);
    this_scale = vbslq_f32(positive_min, vdivq_f32(sum_xl, sum_l2), this_scale);
    float32x4_t cur_error = zero;
    for (int i = 0; i < kSub; ++i)
      cur_error = add_error(cur_error, wt[i], this_scale, trial[i], this_min, xt[i]);
    const uint32x4_t win = vandq_u32(vcgtq_f32(det, zero), vcltq_f32(cur_error, best_error));
    if (!any(win)) continue;
    for (int i = 0; i < kSub; ++i) best[i] = vbslq_f32(win, trial[i], best[i]);
    best_error = vbslq_f32(win, cur_error, best_error);
    scale = vbslq_f32(win, this_scale, scale);
    lo = vbslq_f32(win, this_min, lo);
  }

  vst1q_f32(scales, vbslq_f32(constant, zero, scale));
  vst1q_f32(neg_mins, vnegq_f32(vbslq_f32(constant, lo_first, lo)));
  int32_t codes[kSub][kLanes];
  for (int i = 0; i < kSub; ++i)
    vst1q_s32(codes[i], vcvtq_s32_f32(vbslq_f32(constant, zero, best[i])));
  for (int j = 0; j < kLanes; ++j)
    for (int i = 0; i < kSub; ++i) L[kSub * j + i] = static_cast<uint8_t>(codes[i][j]);
}

void fit_k_sub_blocks(const float* x, int nmax, float rmin, float rdelta, int nstep,
                      float* scales, float* neg_mins, uint8_t* L) {
  for (int p = 0; p < 2; ++p) {
    const int first = kLanes * p;
    fit_k_four(x + kSub * first, nmax, rmin, rdelta, nstep, scales + first, neg_mins + first,
               L + kSub * first);
  }
}

// sumlx = sum (x^2 x) l and suml2 = sum (x^2 l) l over a group, for the codes under iscale.
inline void symmetric_sums(const float32x4_t* xt, float32x4_t iscale, int32x4_t lo_code,
                           int32x4_t hi_code, int32x4_t* codes, float32x4_t& sumlx,
                           float32x4_t& suml2) {
  sumlx = vdupq_n_f32(0.0f);
  suml2 = vdupq_n_f32(0.0f);
  for (int i = 0; i < kGroup; ++i) {
    int32x4_t l = round_nearest4(vmulq_f32(iscale, xt[i]));
    l = vmaxq_s32(lo_code, vminq_s32(hi_code, l));
    codes[i] = l;
    const float32x4_t w = vmulq_f32(xt[i], xt[i]);
    const float32x4_t fl = vcvtq_f32_s32(l);
    sumlx = vaddq_f32(sumlx, vmulq_f32(vmulq_f32(w, xt[i]), fl));
    suml2 = vaddq_f32(suml2, vmulq_f32(vmulq_f32(w, fl), fl));
  }
}

// Q6_K groups 4q .. 4q+3 (quant/quant_k_llamacpp.cpp, fit_symmetric).
void fit_q6_k_four(const float* x, int nmax, float* scales, int8_t* L) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const int32x4_t lo_code = vdupq_n_s32(-nmax), hi_code = vdupq_n_s32(nmax - 1);
  float32x4_t xt[kGroup];
  float32x4_t extreme = zero, amax = zero;
  for (int i = 0; i < kGroup; ++i) {
    const float lanes[kLanes] = {x[i], x[kGroup + i], x[2 * kGroup + i], x[3 * kGroup + i]};
    xt[i] = vld1q_f32(lanes);
    const float32x4_t ax = vabsq_f32(xt[i]);
    const uint32x4_t larger = vcgtq_f32(ax, amax);
    amax = vbslq_f32(larger, ax, amax);
    extreme = vbslq_f32(larger, xt[i], extreme);
  }
  // Lanes below the scalar search's all-zero threshold get scale 0 and L = 0, as there.
  const uint32x4_t all_zero = vcltq_f32(amax, vdupq_n_f32(1e-15f));

  int32x4_t best[kGroup], trial[kGroup];
  float32x4_t sumlx, suml2;
  symmetric_sums(xt, vdivq_f32(vdupq_n_f32(static_cast<float>(-nmax)), extreme), lo_code,
                 hi_code, best, sumlx, suml2);
  float32x4_t scale = vbslq_f32(vceqq_f32(suml2, zero), zero, vdivq_f32(sumlx, suml2));
  float32x4_t best_score = vmulq_f32(scale, sumlx);
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float numerator = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
    symmetric_sums(xt, vdivq_f32(vdupq_n_f32(numerator), extreme), lo_code, hi_code, trial,
                   sumlx, suml2);
    const uint32x4_t win = vandq_u32(
        vcgtq_f32(suml2, zero), vcgtq_f32(vmulq_f32(sumlx, sumlx), vmulq_f32(best_score, suml2)));
    if (!any(win)) continue;
    for (int i = 0; i < kGroup; ++i) best[i] = vbslq_s32(win, trial[i], best[i]);
    const float32x4_t this_scale = vdivq_f32(sumlx, suml2);
    scale = vbslq_f32(win, this_scale, scale);
    best_score = vbslq_f32(win, vmulq_f32(this_scale, sumlx), best_score);
  }

  vst1q_f32(scales, vbslq_f32(all_zero, zero, scale));
  int32_t codes[kGroup][kLanes];
  for (int i = 0; i < kGroup; ++i) {
    const int32x4_t c = vaddq_s32(best[i], vdupq_n_s32(nmax));
    vst1q_s32(codes[i], vbslq_s32(all_zero, vdupq_n_s32(0), c));
  }
  for (int g = 0; g < kLanes; ++g)
    for (int i = 0; i < kGroup; ++i) L[kGroup * g + i] = static_cast<int8_t>(codes[i][g]);
}

void fit_q6_k_groups(const float* x, int nmax, float* scales, int8_t* L) {
  for (int q = 0; q < 4; ++q) {
    const int first = kLanes * q;
    fit_q6_k_four(x + kGroup * first, nmax, scales + first, L + kGroup * first);
  }
}

}  // namespace

void register_k_scale_search(KernelTable& table) {
  table.fit_k_sub_blocks = fit_k_sub_blocks;
  table.fit_q6_k_groups = fit_q6_k_groups;
}

}  // namespace neon
}  // namespace loam
