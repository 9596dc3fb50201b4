// The K types: Q4_K, Q5_K, Q6_K (weights) and Q8_K (activations). Layouts in quant/blocks.h.
//
// Quantizing a super-block takes three steps:
//  1. each sub-block gets its own real-valued scale (and min) from a weighted least-squares
//     search (quant/scale_search.h), with the weights ggml's reference quantizer uses, so the
//     search favours the large values that matter most to a matmul;
//  2. those scales are themselves quantized: a f16 super-scale makes the largest sub-block scale
//     the top 6-bit (Q4_K/Q5_K) or int8 (Q6_K) code;
//  3. step 2 rounds each sub-block scale independently of its codes; we then try the neighbouring
//     scale codes of every sub-block, re-round its values under each, and keep the pair with the
//     least squared error. This step is ours (the reference stops after re-rounding) and only
//     ever lowers the error.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/k_scales.h"
#include "quant/quantize.h"
#include "quant/scale_search.h"

namespace loam {

namespace {

constexpr int kSubK = 32;    // elements per Q4_K / Q5_K sub-block
constexpr int kSub6 = 16;    // elements per Q6_K sub-block
// Step 3 tries scale codes within +-this of the rounded ones. On the synth-tiny tensors radius 1
// cut the RMS error vs ggml's reference by 1.5% (Q4_K) / 3.4% (Q5_K) / 1.0% (Q6_K), radius 2 by
// 1.8% / 4.3% / 1.6%, for about half the cost of step 1's search.
constexpr int kRefineRadius = 2;

// Codes of one Q4_K/Q5_K super-block before bit packing.
struct AffineFit {
  uint16_t d = 0, dmin = 0;
  uint8_t scales[kKScaleBytes] = {};
  uint8_t q[kQKK] = {};  // [256] codes in [0, nmax]
};

// Re-rounds 32 values under sub-block scale ds and offset dm; returns the squared error.
float round_affine(const float* x, float ds, float dm, int nmax, uint8_t* q) {
  float err = 0.0f;
  for (int i = 0; i < kSubK; ++i) {
    int c = 0;
    if (ds != 0.0f) c = std::min(nmax, std::max(0, round_nearest((x[i] + dm) / ds)));
    q[i] = static_cast<uint8_t>(c);
    const float e = ds * c - dm - x[i];
    err += e * e;
  }
  return err;
}

void fit_affine_superblock(const float* x, int nmax, const ScaleGrid& grid, AffineFit& out) {
  float scale[kQKK / kSubK], min[kQKK / kSubK];  // [8] real-valued per sub-block
  float w[kSubK];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < kQKK / kSubK; ++j) {
    const float* xs = x + kSubK * j;
    float sum_sq = 0.0f;
    for (int i = 0; i < kSubK; ++i) sum_sq += xs[i] * xs[i];
    // Weight = typical magnitude + own magnitude: large values count more, small ones still count.
    const float rms = std::sqrt(sum_sq / kSubK);
    for (int i = 0; i < kSubK; ++i) w[i] = rms + std::fabs(xs[i]);
    scale[j] = fit_scale_offset(xs, w, kSubK, nmax, grid, out.q + kSubK * j, &min[j]);
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }

  // Step 2: 6-bit codes for the scales and mins, the largest of each taking code 63.
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, std::max(0, round_nearest(inv_scale * scale[j]))));
    lm[j] = static_cast<uint8_t>(std::min(63, std::max(0, round_nearest(inv_min * min[j]))));
  }
  out.d = fp32_to_fp16(max_scale / 63.0f);
  out.dmin = fp32_to_fp16(max_min / 63.0f);
  const float d = fp16_to_fp32(out.d), dmin = fp16_to_fp32(out.dmin);

  // Step 3: the best neighbouring (scale code, min code) for each sub-block.
  uint8_t trial[kSubK];
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + kSubK * j;
    uint8_t* qs = out.q + kSubK * j;
    int best_ls = ls[j], best_lm = lm[j];
    float best_err = round_affine(xs, d * best_ls, dmin * best_lm, nmax, qs);
    for (int a = std::max(0, ls[j] - kRefineRadius); a <= std::min(63, ls[j] + kRefineRadius); ++a) {
      for (int b = std::max(0, lm[j] - kRefineRadius); b <= std::min(63, lm[j] + kRefineRadius);
           ++b) {
        if (a == ls[j] && b == lm[j]) continue;
        const float err = round_affine(xs, d * a, dmin * b, nmax, trial);
        if (err < best_err) {
          best_err = err;
          best_ls = a;
          best_lm = b;
          std::memcpy(qs, trial, kSubK);
        }
      }
    }
    ls[j] = static_cast<uint8_t>(best_ls);
    lm[j] = static_cast<uint8_t>(best_lm);
  }
  pack_k_scales(ls, lm, out.scales);
}

// Candidate grids of the weighted search (see scale_search.h): inverse scales from nmax - 1 to
// nmax + 1 for 4-bit codes, nmax - 0.5 to nmax + 1 for 5-bit codes (whose relative rounding
// error is smaller, so less stretching pays), nmax -+ 0.9 for Q6_K's signed codes, as ggml's
// reference quantizer searches.
constexpr ScaleGrid kGridQ4K = {-1.0f, 0.1f, 21};
constexpr ScaleGrid kGridQ5K = {-0.5f, 0.1f, 16};
constexpr ScaleGrid kGridQ6K = {-0.9f, 0.1f, 19};

}  // namespace

void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n) {
  AffineFit fit;
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    fit_affine_superblock(x, 15, kGridQ4K, fit);
    y[b].d = fit.d;
    y[b].dmin = fit.dmin;
    std::memcpy(y[b].scales, fit.scales, kKScaleBytes);
    // Chunk c of 64 elements: first 32 in the low nibbles of qs[32c..], next 32 in the high.
    for (int c = 0; c < kQKK / 64; ++c) {
      for (int l = 0; l < 32; ++l) {
        y[b].qs[32 * c + l] = static_cast<uint8_t>(fit.q[64 * c + l] | (fit.q[64 * c + 32 + l] << 4));
      }
    }
  }
}

void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
    for (int c = 0; c < kQKK / 64; ++c) {
      int sc0, m0, sc1, m1;
      k_scale_min(2 * c, x[b].scales, sc0, m0);
      k_scale_min(2 * c + 1, x[b].scales, sc1, m1);
      const uint8_t* qs = x[b].qs + 32 * c;
      for (int l = 0; l < 32; ++l) *y++ = d * sc0 * (qs[l] & 0x0F) - dmin * m0;
      for (int l = 0; l < 32; ++l) *y++ = d * sc1 * (qs[l] >> 4) - dmin * m1;
    }
  }
}

void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n) {
  AffineFit fit;
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    fit_affine_superblock(x, 31, kGridQ5K, fit);
    y[b].d = fit.d;
    y[b].dmin = fit.dmin;
    std::memcpy(y[b].scales, fit.scales, kKScaleBytes);
    std::memset(y[b].qh, 0, sizeof y[b].qh);
    for (int c = 0; c < kQKK / 64; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int q0 = fit.q[64 * c + l], q1 = fit.q[64 * c + 32 + l];
        y[b].qs[32 * c + l] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
        y[b].qh[l] |= static_cast<uint8_t>(((q0 >> 4) << (2 * c)) | ((q1 >> 4) << (2 * c + 1)));
      }
    }
  }
}

void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
    for (int c = 0; c < kQKK / 64; ++c) {
      int sc0, m0, sc1, m1;
      k_scale_min(2 * c, x[b].scales, sc0, m0);
      k_scale_min(2 * c + 1, x[b].scales, sc1, m1);
      const uint8_t* qs = x[b].qs + 32 * c;
      const uint8_t* qh = x[b].qh;
      for (int l = 0; l < 32; ++l) {
        *y++ = d * sc0 * ((qs[l] & 0x0F) | (((qh[l] >> (2 * c)) & 1) << 4)) - dmin * m0;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d * sc1 * ((qs[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) - dmin * m1;
      }
    }
  }
}

namespace {

// Re-rounds 16 values under scale ds to codes in [-32, 31]; returns the squared error.
float round_symmetric6(const float* x, float ds, int8_t* q) {
  float err = 0.0f;
  for (int i = 0; i < kSub6; ++i) {
    int c = 0;
    if (ds != 0.0f) c = std::min(31, std::max(-32, round_nearest(x[i] / ds)));
    q[i] = static_cast<int8_t>(c);
    const float e = ds * c - x[i];
    err += e * e;
  }
  return err;
}

}  // namespace

void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n) {
  float scale[kQKK / kSub6];  // [16] real-valued per sub-block
  int8_t q[kQKK];             // [256] codes in [-32, 31]
  float w[kSub6];
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    float max_scale = 0.0f;
    for (int g = 0; g < kQKK / kSub6; ++g) {
      const float* xs = x + kSub6 * g;
      // Weight x^2: the sub-block's few large values dominate its contribution to a dot product.
      for (int i = 0; i < kSub6; ++i) w[i] = xs[i] * xs[i];
      scale[g] = fit_scale_symmetric(xs, w, kSub6, 32, kGridQ6K, q + kSub6 * g);
      if (std::fabs(scale[g]) > std::fabs(max_scale)) max_scale = scale[g];
    }
    std::memset(&y[b], 0, sizeof y[b]);
    if (std::fabs(max_scale) < 1e-15f) continue;  // all zero: d = 0 dequantizes to zeros

    // The largest sub-block scale takes code -128, the int8 end with the extra value.
    const float inv = -128.0f / max_scale;
    y[b].d = fp32_to_fp16(1.0f / inv);
    const float d = fp16_to_fp32(y[b].d);
    int8_t trial[kSub6];
    for (int g = 0; g < kQKK / kSub6; ++g) {
      const float* xs = x + kSub6 * g;
      int8_t* qs = q + kSub6 * g;
      const int code = std::min(127, round_nearest(inv * scale[g]));
      int best = code;
      float best_err = round_symmetric6(xs, d * code, qs);
      for (int s = std::max(-128, code - kRefineRadius); s <= std::min(127, code + kRefineRadius);
           ++s) {
        if (s == code) continue;
        const float err = round_symmetric6(xs, d * s, trial);
        if (err < best_err) {
          best_err = err;
          best = s;
          std::memcpy(qs, trial, kSub6);
        }
      }
      y[b].scales[g] = static_cast<int8_t>(best);
    }

    // Half h (128 elements), quarter k, lane l: see quant/blocks.h.
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        int u[4];
        for (int k = 0; k < 4; ++k) u[k] = q[128 * h + 32 * k + l] + 32;
        y[b].ql[64 * h + l] = static_cast<uint8_t>((u[0] & 0x0F) | ((u[2] & 0x0F) << 4));
        y[b].ql[64 * h + 32 + l] = static_cast<uint8_t>((u[1] & 0x0F) | ((u[3] & 0x0F) << 4));
        y[b].qh[32 * h + l] = static_cast<uint8_t>((u[0] >> 4) | ((u[1] >> 4) << 2) |
                                                   ((u[2] >> 4) << 4) | ((u[3] >> 4) << 6));
      }
    }
  }
}

void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    const float d = fp16_to_fp32(x[b].d);
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int l = 0; l < 32; ++l) {
          const uint8_t low_byte = x[b].ql[64 * h + 32 * (k & 1) + l];
          const int low = k < 2 ? (low_byte & 0x0F) : (low_byte >> 4);
          const int high = (x[b].qh[32 * h + l] >> (2 * k)) & 3;
          const int e = 128 * h + 32 * k + l;
          y[e] = d * x[b].scales[e / kSub6] * ((low | (high << 4)) - 32);
        }
      }
    }
  }
}

void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK) {
    float amax = 0.0f;
    for (int i = 0; i < kQKK; ++i) amax = std::max(amax, std::fabs(x[i]));
    std::memset(&y[b], 0, sizeof y[b]);
    if (amax == 0.0f) continue;
    const float inv = 127.0f / amax;
    for (int i = 0; i < kQKK; ++i) {
      // nearbyint, not round_nearest: the magic-number add would let the compiler fuse the
      // product into an FMA, and the unrounded product breaks near-ties differently from the
      // reference (which rounds inv * x to float first, then to the nearest even integer).
      y[b].qs[i] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(inv * x[i]))));
    }
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y[b].qs[16 * g + i];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1.0f / inv;
  }
}

void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQKK; ++b, y += kQKK) {
    for (int i = 0; i < kQKK; ++i) y[i] = x[b].d * x[b].qs[i];
  }
}

}  // namespace loam
