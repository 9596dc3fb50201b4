// The scale searches of the K quantizers (quant/quant_k_llamacpp.cpp: fit_affine for Q4_K / Q5_K,
// fit_symmetric for Q6_K), written once over a vector of lanes, each lane one independent sub-block
// (or group). Every lane performs exactly the scalar search's operations in the scalar order, so its
// scale, offset and codes are bit-identical to the scalar search's, and hence to llama-quantize's.
// The scalar search is one long chain of dependent additions per candidate (its sums must stay
// sequential to keep those bytes); across sub-blocks nothing depends, so the lanes run the chains
// side by side.
//
// Included by the ISA files (x86_avx2/, arm_neon/ k_scale_search.cpp), each compiled with
// -ffp-contract=off: a fused multiply-add rounds once where the scalar search rounds twice. Each
// provides the lane type V, declared in an anonymous namespace, so that every instantiation here
// has internal linkage (nothing compiled with ISA flags can be merged into generic code; see
// .ci/check_isa_symbols.sh). V's interface, with F a float vector, I an int32 vector, M a mask:
//   kLanes; zero(), set1(float), set1_i(int); add, sub, mul, div, sqrt, abs, neg (float lanes);
//   lt, gt, eq (ordered comparisons: false for NaN), both(M, M); select(M, a, b) = M ? a : b, and
//   select_i for I; any(M); round_nearest(F) -> I (quant/quantize.h's bit trick); clamp(I, lo, hi)
//   = max(lo, min(hi, l)); to_float(I); truncate(F) -> I; add_i(I, I);
//   load_strided(x, stride) = {x[0], x[stride], ...}; store(float*, F); store_i(int32_t*, I).
#pragma once

#include <cstdint>

namespace loam {
namespace k_search {

constexpr int kSub = 32;          // elements per Q4_K / Q5_K sub-block
constexpr int kSubBlocks = 8;     // sub-blocks per super-block
constexpr int kGroup = 16;        // elements per Q6_K group
constexpr int kGroups = 16;       // groups per super-block
constexpr int kMaxLanes = 8;

// The code of x under inverse scale iscale and offset lo, clamped to [0, nmax], as a float (the
// scalar search converts its uint8_t codes to float wherever it multiplies by them).
template <class V>
typename V::F affine_code(typename V::F iscale, typename V::F x, typename V::F lo,
                          typename V::I nmax) {
  const typename V::I l = V::round_nearest(V::mul(iscale, V::sub(x, lo)));
  return V::to_float(V::clamp(l, V::set1_i(0), nmax));
}

// sum + w * (scale * code + lo - x)^2: one term of the weighted squared error, in the scalar order.
template <class V>
typename V::F add_error(typename V::F sum, typename V::F w, typename V::F scale,
                        typename V::F code, typename V::F lo, typename V::F x) {
  typename V::F diff = V::sub(V::add(V::mul(scale, code), lo), x);
  diff = V::mul(diff, diff);
  return V::add(sum, V::mul(w, diff));
}

// fit_affine for the V::kLanes sub-blocks starting at x (lane j: x + kSub * j), the weights
// computed as fit_affine_superblock does (av_x + |x|).
template <class V>
void fit_affine_lanes(const float* x, int nmax, float rmin, float rdelta, int nstep,
                      float* scales, float* neg_mins, uint8_t* L) {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  const F zero = V::zero();
  const I nmax_i = V::set1_i(nmax);

  F xt[kSub], wt[kSub];  // xt[i]: element i of every lane's sub-block
  F sum_x2 = zero;
  for (int i = 0; i < kSub; ++i) {
    xt[i] = V::load_strided(x + i, kSub);
    sum_x2 = V::add(sum_x2, V::mul(xt[i], xt[i]));
  }
  const F av_x = V::sqrt(V::div(sum_x2, V::set1(static_cast<float>(kSub))));
  for (int i = 0; i < kSub; ++i) wt[i] = V::add(av_x, V::abs(xt[i]));

  F lo = xt[0], hi = xt[0];
  F sum_w = wt[0];
  F sum_x = V::mul(sum_w, xt[0]);
  for (int i = 1; i < kSub; ++i) {
    // `if (x < lo) lo = x`, written out: a vector min may order -0 and +0 differently.
    lo = V::select(V::lt(xt[i], lo), xt[i], lo);
    hi = V::select(V::gt(xt[i], hi), xt[i], hi);
    sum_w = V::add(sum_w, wt[i]);
    sum_x = V::add(sum_x, V::mul(wt[i], xt[i]));
  }
  lo = V::select(V::gt(lo, zero), zero, lo);
  // Lanes with hi == lo are constant sub-blocks: the scalar search returns scale 0, codes 0 and
  // offset -lo for them at once. Here they run the search on infinities and are replaced at the end.
  const M constant = V::eq(hi, lo);
  const F lo_first = lo;

  F iscale = V::div(V::set1(static_cast<float>(nmax)), V::sub(hi, lo));
  F scale = V::div(V::set1(1.0f), iscale);
  F best_error = zero;
  F best[kSub], trial[kSub];
  for (int i = 0; i < kSub; ++i) {
    best[i] = affine_code<V>(iscale, xt[i], lo, nmax_i);
    best_error = add_error<V>(best_error, wt[i], scale, best[i], lo, xt[i]);
  }

  for (int is = 0; is <= nstep; ++is) {
    // The candidates' range uses each lane's offset so far, as the scalar search's does.
    const float numerator = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
    iscale = V::div(V::set1(numerator), V::sub(hi, lo));
    F sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < kSub; ++i) {
      trial[i] = affine_code<V>(iscale, xt[i], lo, nmax_i);
      const F wl = V::mul(wt[i], trial[i]);
      sum_l = V::add(sum_l, wl);
      sum_l2 = V::add(sum_l2, V::mul(wl, trial[i]));
      sum_xl = V::add(sum_xl, V::mul(wl, xt[i]));
    }
    const F det = V::sub(V::mul(sum_w, sum_l2), V::mul(sum_l, sum_l));
    // Lanes with det <= 0 skip the candidate in the scalar search; here they compute it and
    // discard it (a division by zero or a negative det yields values that never win).
    F this_scale = V::div(V::sub(V::mul(sum_w, sum_xl), V::mul(sum_x, sum_l)), det);
    F this_min = V::div(V::sub(V::mul(sum_l2, sum_x), V::mul(sum_l, sum_xl)), det);
    const M positive_min = V::gt(this_min, zero);
    this_min = V::select(positive_min, zero, this_min);
    this_scale = V::select(positive_min, V::div(sum_xl, sum_l2), this_scale);
    F cur_error = zero;
    for (int i = 0; i < kSub; ++i)
      cur_error = add_error<V>(cur_error, wt[i], this_scale, trial[i], this_min, xt[i]);
    const M win = V::both(V::gt(det, zero), V::lt(cur_error, best_error));
    if (!V::any(win)) continue;
    for (int i = 0; i < kSub; ++i) best[i] = V::select(win, trial[i], best[i]);
    best_error = V::select(win, cur_error, best_error);
    scale = V::select(win, this_scale, scale);
    lo = V::select(win, this_min, lo);
  }

  V::store(scales, V::select(constant, zero, scale));
  V::store(neg_mins, V::neg(V::select(constant, lo_first, lo)));
  int32_t codes[kSub][kMaxLanes];
  for (int i = 0; i < kSub; ++i) V::store_i(codes[i], V::truncate(V::select(constant, zero, best[i])));
  for (int j = 0; j < V::kLanes; ++j)
    for (int i = 0; i < kSub; ++i) L[kSub * j + i] = static_cast<uint8_t>(codes[i][j]);
}

// FitKSubBlocksFn (kernels/kernel_table.h): the 8 sub-blocks of a super-block, kLanes at a time.
template <class V>
void fit_k_sub_blocks(const float* x, int nmax, float rmin, float rdelta, int nstep,
                      float* scales, float* neg_mins, uint8_t* L) {
  static_assert(kSubBlocks % V::kLanes == 0 && V::kLanes <= kMaxLanes, "whole passes");
  for (int first = 0; first < kSubBlocks; first += V::kLanes)
    fit_affine_lanes<V>(x + kSub * first, nmax, rmin, rdelta, nstep, scales + first,
                        neg_mins + first, L + kSub * first);
}

// fit_symmetric's sums for the codes under iscale: sumlx = sum (x^2 x) l, suml2 = sum (x^2 l) l.
template <class V>
void symmetric_sums(const typename V::F* xt, typename V::F iscale, typename V::I lo_code,
                    typename V::I hi_code, typename V::I* codes, typename V::F& sumlx,
                    typename V::F& suml2) {
  sumlx = V::zero();
  suml2 = V::zero();
  for (int i = 0; i < kGroup; ++i) {
    const typename V::I l = V::clamp(V::round_nearest(V::mul(iscale, xt[i])), lo_code, hi_code);
    codes[i] = l;
    const typename V::F w = V::mul(xt[i], xt[i]);
    const typename V::F fl = V::to_float(l);
    sumlx = V::add(sumlx, V::mul(V::mul(w, xt[i]), fl));
    suml2 = V::add(suml2, V::mul(V::mul(w, fl), fl));
  }
}

// fit_symmetric for the V::kLanes Q6_K groups starting at x (lane j: x + kGroup * j). L gets
// code + nmax, or 0 for a group under the all-zero threshold, as the scalar search writes.
template <class V>
void fit_symmetric_lanes(const float* x, int nmax, float* scales, int8_t* L) {
  using F = typename V::F;
  using I = typename V::I;
  using M = typename V::M;
  const F zero = V::zero();
  const I lo_code = V::set1_i(-nmax), hi_code = V::set1_i(nmax - 1);
  F xt[kGroup];
  F extreme = zero, amax = zero;
  for (int i = 0; i < kGroup; ++i) {
    xt[i] = V::load_strided(x + i, kGroup);
    const F ax = V::abs(xt[i]);
    const M larger = V::gt(ax, amax);
    amax = V::select(larger, ax, amax);
    extreme = V::select(larger, xt[i], extreme);
  }
  const M all_zero = V::lt(amax, V::set1(1e-15f));

  I best[kGroup], trial[kGroup];
  F sumlx, suml2;
  symmetric_sums<V>(xt, V::div(V::set1(static_cast<float>(-nmax)), extreme), lo_code, hi_code,
                    best, sumlx, suml2);
  F scale = V::select(V::eq(suml2, zero), zero, V::div(sumlx, suml2));
  F best_score = V::mul(scale, sumlx);
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float numerator = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
    symmetric_sums<V>(xt, V::div(V::set1(numerator), extreme), lo_code, hi_code, trial, sumlx,
                      suml2);
    const M win = V::both(V::gt(suml2, zero),
                          V::gt(V::mul(sumlx, sumlx), V::mul(best_score, suml2)));
    if (!V::any(win)) continue;
    for (int i = 0; i < kGroup; ++i) best[i] = V::select_i(win, trial[i], best[i]);
    const F this_scale = V::div(sumlx, suml2);
    scale = V::select(win, this_scale, scale);
    best_score = V::select(win, V::mul(this_scale, sumlx), best_score);
  }

  V::store(scales, V::select(all_zero, zero, scale));
  int32_t codes[kGroup][kMaxLanes];
  for (int i = 0; i < kGroup; ++i)
    V::store_i(codes[i], V::select_i(all_zero, V::set1_i(0), V::add_i(best[i], V::set1_i(nmax))));
  for (int g = 0; g < V::kLanes; ++g)
    for (int i = 0; i < kGroup; ++i) L[kGroup * g + i] = static_cast<int8_t>(codes[i][g]);
}

// FitQ6KGroupsFn (kernels/kernel_table.h): the 16 groups of a super-block, kLanes at a time.
template <class V>
void fit_q6_k_groups(const float* x, int nmax, float* scales, int8_t* L) {
  static_assert(kGroups % V::kLanes == 0 && V::kLanes <= kMaxLanes, "whole passes");
  for (int first = 0; first < kGroups; first += V::kLanes)
    fit_symmetric_lanes<V>(x + kGroup * first, nmax, scales + first, L + kGroup * first);
}

}  // namespace k_search
}  // namespace loam
