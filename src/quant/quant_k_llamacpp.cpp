// llama.cpp's reference K quantizers, restated (see quant_k_llamacpp.h). Every sum, product and
// comparison below keeps the order and precision of the original: changing any of them changes
// which candidate scale wins in a few blocks, and then the bytes differ.
#include "quant/quant_k_llamacpp.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/kernels.h"
#include "quant/k_scales.h"
#include "quant/quantize.h"

// No fused multiply-adds: llama-quantize's (portable) build rounds every product and sum
// separately, and GCC would otherwise fuse them wherever FMA is available (-march=native,
// aarch64), which moved 6% of the Q4_K blocks and 27% of the Q5_K blocks of synth-tiny.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace loam {

namespace {

constexpr int kSub = 32;              // elements per Q4_K / Q5_K sub-block
constexpr int kSub6 = 16;             // elements per Q6_K sub-block
constexpr float kAllZero = 1e-15f;    // a Q6_K group below this is all zeros

// Codes x ~ scale * L + min (min <= 0) for one sub-block: the scale that spreads [min(x, 0),
// max(x)] over 0..nmax, then nstep + 1 stretched inverse scales (nmax + rmin + rdelta * k) /
// range, each followed by the weighted least-squares scale and min for its codes; the least
// weighted squared error wins. Later candidates round relative to the best min so far. Returns
// the scale; *neg_min = -min.
float fit_affine(int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                 float rmin, float rdelta, int nstep) {
  float lo = x[0], hi = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < kSub; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    const float wi = w[i];
    sum_w += wi;
    sum_x += wi * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    std::fill(L, L + kSub, uint8_t{0});
    *neg_min = -lo;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (hi - lo);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < kSub; ++i) {
    const int l = round_nearest(iscale * (x[i] - lo));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + lo - x[i];
    diff = diff * diff;
    best_error += w[i] * diff;
  }
  uint8_t trial[kSub];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < kSub; ++i) {
      int l = round_nearest(iscale * (x[i] - lo));
      l = std::max(0, std::min(nmax, l));
      trial[i] = static_cast<uint8_t>(l);
      const float wi = w[i];
      const float fl = static_cast<float>(l);
      sum_l += wi * fl;
      sum_l2 += wi * fl * fl;
      sum_xl += wi * fl * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < kSub; ++i) {
        float diff = this_scale * trial[i] + this_min - x[i];
        diff = diff * diff;
        cur_error += w[i] * diff;
      }
      if (cur_error < best_error) {
        std::memcpy(L, trial, kSub);
        best_error = cur_error;
        scale = this_scale;
        lo = this_min;
      }
    }
  }
  *neg_min = -lo;
  return scale;
}

}  // namespace

void fit_k_sub_blocks_scalar(const float* x, int nmax, float rmin, float rdelta, int nstep,
                             float* scales, float* neg_mins, uint8_t* L) {
  float weights[kSub];
  for (int j = 0; j < kQKK / kSub; ++j) {
    const float* xs = x + kSub * j;
    float sum_x2 = 0;
    for (int l = 0; l < kSub; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / kSub);
    for (int l = 0; l < kSub; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_affine(nmax, xs, weights, L + kSub * j, &neg_mins[j], rmin, rdelta, nstep);
  }
}

namespace {

// Q4_K / Q5_K super-block: sub-block fits (`search`: the kernel table's, or the scalar one), 6-bit
// scale and min codes against the largest, then every code re-rounded under the stored scales.
// L: [256] codes in 0..nmax.
void fit_affine_superblock(FitKSubBlocksFn search, const float* x, int nmax, float rmin,
                           int nstep, uint16_t& d_out, uint16_t& dmin_out,
                           uint8_t scales_out[kKScaleBytes], uint8_t* L) {
  float scales[kQKK / kSub], mins[kQKK / kSub];  // [8]
  search(x, nmax, rmin, 0.1f, nstep, scales, mins, L);
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kQKK / kSub; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    // Stored through uint8_t first, as the original does (a negative code wraps, then clamps).
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(round_nearest(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(round_nearest(inv_min * mins[j])));
  }
  pack_k_scales(ls, lm, scales_out);
  d_out = fp32_to_fp16(max_scale / 63.f);
  dmin_out = fp32_to_fp16(max_min / 63.f);
  for (int j = 0; j < kQKK / kSub; ++j) {
    int sc, m;
    k_scale_min(j, scales_out, sc, m);
    const float d = fp16_to_fp32(d_out) * static_cast<float>(sc);
    if (d == 0) continue;  // keeps the search's codes
    const float dm = fp16_to_fp32(dmin_out) * static_cast<float>(m);
    for (int i = 0; i < kSub; ++i) {
      const int l = round_nearest((x[kSub * j + i] + dm) / d);
      L[kSub * j + i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

// Signed codes L - nmax in [-nmax, nmax - 1] for one Q6_K group of 16, weighted by x^2: the
// scale that maps the extreme value to -nmax, then inverse scales -(nmax + 0.1 k) / extreme for
// k = -9..9; the candidate with the largest sum(w x l)^2 / sum(w l^2) wins. Returns the scale.
float fit_symmetric(int nmax, const float* x, int8_t* L) {
  float extreme = 0, amax = 0;
  for (int i = 0; i < kSub6; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      extreme = x[i];
    }
  }
  if (amax < kAllZero) {
    std::fill(L, L + kSub6, int8_t{0});
    return 0.f;
  }
  float iscale = static_cast<float>(-nmax) / extreme;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < kSub6; ++i) {
    int l = round_nearest(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const float fl = static_cast<float>(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / extreme;
    sumlx = suml2 = 0;
    for (int i = 0; i < kSub6; ++i) {
      int l = round_nearest(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      const float fl = static_cast<float>(l);
      sumlx += w * x[i] * fl;
      suml2 += w * fl * fl;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < kSub6; ++i) {
        const int l = round_nearest(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

void fit_q6_k_groups_scalar(const float* x, int nmax, float* scales, int8_t* L) {
  for (int g = 0; g < kQKK / kSub6; ++g) scales[g] = fit_symmetric(nmax, x + kSub6 * g, L + kSub6 * g);
}

namespace {

// The kernel table's search for the 8 sub-blocks of a super-block, or the scalar one.
FitKSubBlocksFn sub_block_search() {
  const FitKSubBlocksFn simd = kernels().fit_k_sub_blocks;
  return simd != nullptr ? simd : fit_k_sub_blocks_scalar;
}

// The same for Q6_K's 16 groups.
FitQ6KGroupsFn q6_k_group_search() {
  const FitQ6KGroupsFn simd = kernels().fit_q6_k_groups;
  return simd != nullptr ? simd : fit_q6_k_groups_scalar;
}

}  // namespace

void quantize_row_q4_K_llamacpp(const float* x, BlockQ4_K* y, int64_t n) {
  uint8_t L[kQKK];  // [256] codes 0..15
  const FitKSubBlocksFn search = sub_block_search();
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    fit_affine_superblock(search, x, 15, -1.0f, 20, y[b].d, y[b].dmin, y[b].scales, L);
    // Chunk c of 64: first 32 codes in the low nibbles of qs[32c..], next 32 in the high.
    for (int c = 0; c < kQKK / 64; ++c) {
      for (int l = 0; l < 32; ++l) {
        y[b].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
      }
    }
  }
}

void quantize_row_q5_K_llamacpp(const float* x, BlockQ5_K* y, int64_t n) {
  uint8_t L[kQKK];  // [256] codes 0..31
  const FitKSubBlocksFn search = sub_block_search();
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    fit_affine_superblock(search, x, 31, -0.5f, 15, y[b].d, y[b].dmin, y[b].scales, L);
    std::memset(y[b].qh, 0, sizeof y[b].qh);
    // Chunk c of 64: low 4 bits as in Q4_K; fifth bits in qh bit 2c (first 32) and 2c+1.
    for (int c = 0; c < kQKK / 64; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        y[b].qs[32 * c + l] = static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4));
        y[b].qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

void quantize_row_q6_K_llamacpp(const float* x, BlockQ6_K* y, int64_t n) {
  int8_t L[kQKK];  // [256] codes 0..63 (value + 32)
  float scales[kQKK / kSub6];  // [16]
  const FitQ6KGroupsFn search = q6_k_group_search();
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    search(x, 32, scales, L);
    float max_scale = 0, max_abs_scale = 0;
    for (int g = 0; g < kQKK / kSub6; ++g) {
      const float abs_scale = std::fabs(scales[g]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[g];
      }
    }
    if (max_abs_scale < kAllZero) {
      std::memset(&y[b], 0, sizeof y[b]);
      y[b].d = fp32_to_fp16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[b].d = fp32_to_fp16(1 / iscale);
    for (int g = 0; g < kQKK / kSub6; ++g) {
      y[b].scales[g] = static_cast<int8_t>(std::min(127, round_nearest(iscale * scales[g])));
    }
    for (int g = 0; g < kQKK / kSub6; ++g) {
      const float d = fp16_to_fp32(y[b].d) * static_cast<float>(y[b].scales[g]);
      if (d == 0) continue;  // keeps the search's codes
      for (int i = 0; i < kSub6; ++i) {
        const int l = round_nearest(x[kSub6 * g + i] / d);
        L[kSub6 * g + i] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    // Half h of 128: ql[64h + l] holds codes l (low nibble) and l+64 (high), ql[64h + 32 + l]
    // codes l+32 and l+96; qh[32h + l] the top two bits of codes l, l+32, l+64, l+96.
    for (int h = 0; h < kQKK / 128; ++h) {
      const int8_t* q = L + 128 * h;
      uint8_t* ql = y[b].ql + 64 * h;
      uint8_t* qh = y[b].qh + 32 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((q[l] & 15) | ((q[l + 64] & 15) << 4));
        ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 15) | ((q[l + 96] & 15) << 4));
        qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) |
                                     ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

bool quantize_row_llamacpp(DType type, const float* x, void* y, int64_t n) {
  switch (type) {
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      if (n % kQKK != 0) return false;
      if (type == DType::Q4_K) quantize_row_q4_K_llamacpp(x, static_cast<BlockQ4_K*>(y), n);
      if (type == DType::Q5_K) quantize_row_q5_K_llamacpp(x, static_cast<BlockQ5_K*>(y), n);
      if (type == DType::Q6_K) quantize_row_q6_K_llamacpp(x, static_cast<BlockQ6_K*>(y), n);
      return true;
    default:
      return quantize_row(type, x, y, n);
  }
}

}  // namespace loam
