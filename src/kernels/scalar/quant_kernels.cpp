#include "kernels/scalar/quant_kernels.h"

#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/k_scales.h"
#include "quant/quantize.h"

namespace loam {

// Integer ranges: a 32-element block sums at most 32 * 31 * 127 in magnitude (5-bit codes); a K
// super-block at most 256 * 32 * 128 * 127 < 2^28 (Q6_K: |code - 32| <= 32, |scale| <= 128,
// |a| <= 127): int32 holds every per-block sum exactly.

namespace {

// Sums of 8 floats in the pairing x86 SIMD code uses: (a0+a4, a1+a5, a2+a6, a3+a7), then the
// even and the odd pair, then those two.
inline float sum8_simd_order(const float a[8]) {
  const float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];
  return (r0 + r2) + (r1 + r3);
}

}  // namespace

// The float arithmetic of the dot products below follows the reference implementation the golden
// logits come from (ggml on x86): the model is chaotic enough that one-ulp differences in a
// matmul output flip some 8-bit activation roundings downstream and move logits by percents.
// Q8_0: per block, eight lanes of 4 consecutive products each; lane += d * lane_sum (one fused
// multiply-add per block), then the eight lanes summed in SIMD order.
float dot_q8_0_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ8_0* wb = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float d = fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d);
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int i = 4 * l; i < 4 * l + 4; ++i) s += wb[b].qs[i] * xb[b].qs[i];
      lanes[l] = std::fma(d, static_cast<float>(s), lanes[l]);
    }
  }
  return sum8_simd_order(lanes);
}

float dot_q4_0_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ4_0* wb = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int s = 0;
    for (int i = 0; i < kQK / 2; ++i) {
      s += ((wb[b].qs[i] & 0x0F) - 8) * xb[b].qs[i];
      s += ((wb[b].qs[i] >> 4) - 8) * xb[b].qs[i + kQK / 2];
    }
    sum = std::fma(fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d), static_cast<float>(s), sum);
  }
  return sum;
}

// Q4_1 / Q5_1: (d q + m) . (dx a) = d dx sum(q a) + m dx sum(a); the activation sum is taken here
// from the Q8_0 codes, exact, instead of carrying it in a separate activation format.
float dot_q4_1_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ4_1* wb = static_cast<const BlockQ4_1*>(w);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int s = 0, a_sum = 0;
    for (int i = 0; i < kQK / 2; ++i) {
      const int a0 = xb[b].qs[i], a1 = xb[b].qs[i + kQK / 2];
      s += (wb[b].qs[i] & 0x0F) * a0 + (wb[b].qs[i] >> 4) * a1;
      a_sum += a0 + a1;
    }
    const float dx = fp16_to_fp32(xb[b].d);
    sum += fp16_to_fp32(wb[b].d) * dx * static_cast<float>(s) +
           fp16_to_fp32(wb[b].m) * dx * static_cast<float>(a_sum);
  }
  return sum;
}

namespace {

// Fifth bits of a Q5_0 / Q5_1 block as one little-endian word: bit i belongs to element i.
inline uint32_t high_bits(const uint8_t qh[4]) {
  return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
         (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

inline int code5(const uint8_t* qs, uint32_t high, int i) {
  const int low = i < kQK / 2 ? (qs[i] & 0x0F) : (qs[i - kQK / 2] >> 4);
  return low | static_cast<int>(((high >> i) & 1u) << 4);
}

}  // namespace

float dot_q5_0_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ5_0* wb = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const uint32_t high = high_bits(wb[b].qh);
    int s = 0;
    for (int i = 0; i < kQK; ++i) s += (code5(wb[b].qs, high, i) - 16) * xb[b].qs[i];
    sum += fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d) * static_cast<float>(s);
  }
  return sum;
}

float dot_q5_1_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ5_1* wb = static_cast<const BlockQ5_1*>(w);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const uint32_t high = high_bits(wb[b].qh);
    int s = 0, a_sum = 0;
    for (int i = 0; i < kQK; ++i) {
      s += code5(wb[b].qs, high, i) * xb[b].qs[i];
      a_sum += xb[b].qs[i];
    }
    const float dx = fp16_to_fp32(xb[b].d);
    sum += fp16_to_fp32(wb[b].d) * dx * static_cast<float>(s) +
           fp16_to_fp32(wb[b].m) * dx * static_cast<float>(a_sum);
  }
  return sum;
}

// Q4_K / Q5_K: sum_j (d sc_j q - dmin m_j) . (dx a) = d dx sum_j sc_j sum(q a)
// - dmin dx sum_j m_j sum(a); Q8_K's bsums give sum(a) per 16 elements ready-made.
// Q4_K (ggml's x86 path repacks Q4_K): per super-block, acc += scaled * (d dx) and
// accm += mins * (dmin dx), each one fused multiply-add; the result is acc - accm.
float dot_q4_K_q8_K(const void* w, const void* x, int64_t n) {
  const BlockQ4_K* wb = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  float acc = 0.0f, acc_min = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int scaled = 0, mins = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      k_scale_min(j, wb[b].scales, sc, m);
      const uint8_t* qs = wb[b].qs + 32 * (j / 2);
      const int shift = 4 * (j & 1);  // even sub-blocks in low nibbles, odd in high
      const int8_t* a = xb[b].qs + 32 * j;
      int s = 0;
      for (int l = 0; l < 32; ++l) s += ((qs[l] >> shift) & 0x0F) * a[l];
      scaled += sc * s;
      mins += m * (xb[b].bsums[2 * j] + xb[b].bsums[2 * j + 1]);
    }
    const float d = fp16_to_fp32(wb[b].d) * xb[b].d;
    const float dmin = fp16_to_fp32(wb[b].dmin) * xb[b].d;
    acc = std::fma(static_cast<float>(scaled), d, acc);
    acc_min = std::fma(static_cast<float>(mins), dmin, acc_min);
  }
  return acc - acc_min;
}

// Q5_K: eight lanes; lane l gathers, over each 32-element sub-block j, sc_j * sum(code * a) of
// the elements whose index within the sub-block is in [4l, 4l + 4); per super-block
// lane += d dx * lane_sum (fused), and the mins term -dmin dx * mins is added to a separate
// running sum; the result is the lanes summed in SIMD order plus that sum.
float dot_q5_K_q8_K(const void* w, const void* x, int64_t n) {
  const BlockQ5_K* wb = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float mins_sum = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int lane_sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int mins = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      k_scale_min(j, wb[b].scales, sc, m);
      const uint8_t* qs = wb[b].qs + 32 * (j / 2);
      const int shift = 4 * (j & 1);
      const int8_t* a = xb[b].qs + 32 * j;
      for (int l = 0; l < 32; ++l) {
        const int code = ((qs[l] >> shift) & 0x0F) | (((wb[b].qh[l] >> j) & 1) << 4);
        lane_sums[l / 4] += sc * code * a[l];
      }
      mins += m * (xb[b].bsums[2 * j] + xb[b].bsums[2 * j + 1]);
    }
    const float d = xb[b].d * fp16_to_fp32(wb[b].d);
    const float neg_dmin = -(xb[b].d * fp16_to_fp32(wb[b].dmin));
    for (int l = 0; l < 8; ++l) lanes[l] = std::fma(d, static_cast<float>(lane_sums[l]), lanes[l]);
    mins_sum = std::fma(neg_dmin, static_cast<float>(mins), mins_sum);
  }
  return sum8_simd_order(lanes) + mins_sum;
}

float dot_q6_K_q8_K(const void* w, const void* x, int64_t n) {
  const BlockQ6_K* wb = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int group[16] = {};  // [16] sum of (code - 32) * a per 16-element sub-block
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int l = 0; l < 32; ++l) {
          const uint8_t low_byte = wb[b].ql[64 * h + 32 * (k & 1) + l];
          const int low = k < 2 ? (low_byte & 0x0F) : (low_byte >> 4);
          const int high = (wb[b].qh[32 * h + l] >> (2 * k)) & 3;
          const int e = 128 * h + 32 * k + l;
          group[e / 16] += ((low | (high << 4)) - 32) * xb[b].qs[e];
        }
      }
    }
    int s = 0;
    for (int g = 0; g < 16; ++g) s += wb[b].scales[g] * group[g];
    sum = std::fma(fp16_to_fp32(wb[b].d) * xb[b].d, static_cast<float>(s), sum);
  }
  return sum;
}

namespace {

using DotFn = float (*)(const void*, const void*, int64_t);

template <DotFn Dot>
void gemv_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  for (int64_t r = 0; r < n_rows; ++r) y[r] = Dot(w + static_cast<size_t>(r) * row_bytes, x, n_cols);
}

// Activations are not quantized like weights (quantize_row_q8_0, the file format's reference
// rounding): the golden logits come from ggml's x86 activation quantizer, which multiplies by
// 127 / amax (not 1 / d) and rounds the float product to the nearest even integer. Activations
// built from quantized embeddings hit exact ties (x = amax / 2 gives 63.5) and near-ties, and a
// flipped code moves the logits of this chaotic model by percents. nearbyint also keeps the
// compiler from fusing the product into an FMA, which would break near-ties differently.
void quantize_act_q8_0(const float* x, void* out, int64_t n) {
  BlockQ8_0* y = static_cast<BlockQ8_0*>(out);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[b].d = fp32_to_fp16(amax / 127.0f);
    for (int i = 0; i < kQK; ++i) y[b].qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
  }
}

void quantize_act_q8_K(const float* x, void* out, int64_t n) {
  quantize_row_q8_K(x, static_cast<BlockQ8_K*>(out), n);
}

void set(KernelTable& table, DType weight, GemvFn fn, DType act) {
  table.weights[static_cast<uint32_t>(weight)].gemv = fn;
  table.weights[static_cast<uint32_t>(weight)].act_type = act;
}

}  // namespace

void register_scalar_quant_kernels(KernelTable& table) {
  table.quantize_act[static_cast<uint32_t>(DType::Q8_0)] = quantize_act_q8_0;
  table.quantize_act[static_cast<uint32_t>(DType::Q8_K)] = quantize_act_q8_K;
  set(table, DType::Q8_0, gemv_rows<dot_q8_0_q8_0>, DType::Q8_0);
  set(table, DType::Q4_0, gemv_rows<dot_q4_0_q8_0>, DType::Q8_0);
  set(table, DType::Q4_1, gemv_rows<dot_q4_1_q8_0>, DType::Q8_0);
  set(table, DType::Q5_0, gemv_rows<dot_q5_0_q8_0>, DType::Q8_0);
  set(table, DType::Q5_1, gemv_rows<dot_q5_1_q8_0>, DType::Q8_0);
  set(table, DType::Q4_K, gemv_rows<dot_q4_K_q8_K>, DType::Q8_K);
  set(table, DType::Q5_K, gemv_rows<dot_q5_K_q8_K>, DType::Q8_K);
  set(table, DType::Q6_K, gemv_rows<dot_q6_K_q8_K>, DType::Q8_K);
}

}  // namespace loam
