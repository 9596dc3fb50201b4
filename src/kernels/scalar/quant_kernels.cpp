#include "kernels/scalar/quant_kernels.h"

#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/k_scales.h"
#include "quant/quantize.h"

namespace loam {

// Integer ranges: a 32-element block sums at most 32 * 31 * 127 in magnitude (5-bit codes); a K
// super-block at most 256 * 32 * 128 * 127 < 2^28 (Q6_K: |code - 32| <= 32, |scale| <= 128,
// |a| <= 127): int32 holds every per-block sum exactly.

float dot_q8_0_q8_0(const void* w, const void* x, int64_t n) {
  const BlockQ8_0* wb = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int s = 0;
    for (int i = 0; i < kQK; ++i) s += wb[b].qs[i] * xb[b].qs[i];
    sum += fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d) * static_cast<float>(s);
  }
  return sum;
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
    sum += fp16_to_fp32(wb[b].d) * fp16_to_fp32(xb[b].d) * static_cast<float>(s);
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
float dot_q4_K_q8_K(const void* w, const void* x, int64_t n) {
  const BlockQ4_K* wb = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
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
    sum += fp16_to_fp32(wb[b].d) * xb[b].d * static_cast<float>(scaled) -
           fp16_to_fp32(wb[b].dmin) * xb[b].d * static_cast<float>(mins);
  }
  return sum;
}

float dot_q5_K_q8_K(const void* w, const void* x, int64_t n) {
  const BlockQ5_K* wb = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int scaled = 0, mins = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      k_scale_min(j, wb[b].scales, sc, m);
      const uint8_t* qs = wb[b].qs + 32 * (j / 2);
      const int shift = 4 * (j & 1);
      const int8_t* a = xb[b].qs + 32 * j;
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        const int code = ((qs[l] >> shift) & 0x0F) | (((wb[b].qh[l] >> j) & 1) << 4);
        s += code * a[l];
      }
      scaled += sc * s;
      mins += m * (xb[b].bsums[2 * j] + xb[b].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(wb[b].d) * xb[b].d * static_cast<float>(scaled) -
           fp16_to_fp32(wb[b].dmin) * xb[b].d * static_cast<float>(mins);
  }
  return sum;
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
    sum += fp16_to_fp32(wb[b].d) * xb[b].d * static_cast<float>(s);
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

void quantize_act_q8_0(const float* x, void* out, int64_t n) {
  quantize_row_q8_0(x, static_cast<BlockQ8_0*>(out), n);
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
