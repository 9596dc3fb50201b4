// The 32-element block types: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (layouts in quant/blocks.h).
//
// Quantizers take the scale from the block's extreme values, as the formats were defined; this
// reproduces the bytes of files written by ggml's reference quantizer, including its rounding
// (half away from zero for Q8_0, x + 0.5 truncated for the 4/5-bit types).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/quantize.h"

namespace loam {

namespace {

// The element of largest magnitude, with its sign (the first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, value = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      value = x[i];
    }
  }
  return value;
}

void min_max(const float* x, int n, float& lo, float& hi) {
  lo = x[0];
  hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
}

// std::round (half away from zero), exactly, without the libm call that made the Q8_0
// activation quantizer cost 14 ns per value: v - trunc(v) is exact for |v| < 2^23, and larger
// floats are integers already. |v| < 2^31.
inline int round_half_away(float v) {
  const int t = static_cast<int>(v);
  const float frac = v - static_cast<float>(t);
  return t + (frac >= 0.5f) - (frac <= -0.5f);
}

// The integer part of v (v >= 0: the caller added its offset and 0.5 in one step, as the reference
// does, so files match bit for bit), capped at top.
inline int truncate_to(float v, int top) { return std::min(top, static_cast<int>(v)); }

}  // namespace

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int i = 0; i < kQK; ++i) y[b].qs[i] = static_cast<int8_t>(round_half_away(x[i] * id));
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    for (int i = 0; i < kQK; ++i) y[i] = d * x[b].qs[i];
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    // The extreme value maps to q = 0 (value -8d): the asymmetric range [-8, 7] gives the larger
    // side to the element that needs it.
    const float d = signed_absmax(x, kQK) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int i = 0; i < kQK / 2; ++i) {
      const int lo = truncate_to(x[i] * id + 8.5f, 15);
      const int hi = truncate_to(x[i + kQK / 2] * id + 8.5f, 15);
      y[b].qs[i] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    for (int i = 0; i < kQK / 2; ++i) {
      y[i] = d * ((x[b].qs[i] & 0x0F) - 8);
      y[i + kQK / 2] = d * ((x[b].qs[i] >> 4) - 8);
    }
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float lo, hi;
    min_max(x, kQK, lo, hi);
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(lo);
    for (int i = 0; i < kQK / 2; ++i) {
      const int q0 = truncate_to((x[i] - lo) * id + 0.5f, 15);
      const int q1 = truncate_to((x[i + kQK / 2] - lo) * id + 0.5f, 15);
      y[b].qs[i] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    const float m = fp16_to_fp32(x[b].m);
    for (int i = 0; i < kQK / 2; ++i) {
      y[i] = d * (x[b].qs[i] & 0x0F) + m;
      y[i + kQK / 2] = d * (x[b].qs[i] >> 4) + m;
    }
  }
}

namespace {

// Splits 32 five-bit values into the nibbles of qs and the fifth bits of qh.
void pack_5bit(const int q[kQK], uint8_t qs[kQK / 2], uint8_t qh[4]) {
  uint32_t high = 0;
  for (int i = 0; i < kQK / 2; ++i) {
    qs[i] = static_cast<uint8_t>((q[i] & 0x0F) | ((q[i + kQK / 2] & 0x0F) << 4));
  }
  for (int i = 0; i < kQK; ++i) high |= static_cast<uint32_t>((q[i] >> 4) & 1) << i;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(high >> (8 * k));
}

void unpack_5bit(const uint8_t qs[kQK / 2], const uint8_t qh[4], int q[kQK]) {
  const uint32_t high = static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
                        (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
  for (int i = 0; i < kQK / 2; ++i) {
    q[i] = qs[i] & 0x0F;
    q[i + kQK / 2] = qs[i] >> 4;
  }
  for (int i = 0; i < kQK; ++i) q[i] |= static_cast<int>((high >> i) & 1) << 4;
}

}  // namespace

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  int q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = signed_absmax(x, kQK) / -16.0f;  // extreme value -> q = 0, as Q4_0
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int i = 0; i < kQK; ++i) q[i] = truncate_to(x[i] * id + 16.5f, 31);
    pack_5bit(q, y[b].qs, y[b].qh);
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  int q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    unpack_5bit(x[b].qs, x[b].qh, q);
    for (int i = 0; i < kQK; ++i) y[i] = d * (q[i] - 16);
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  int q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float lo, hi;
    min_max(x, kQK, lo, hi);
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    y[b].m = fp32_to_fp16(lo);
    for (int i = 0; i < kQK; ++i) q[i] = truncate_to((x[i] - lo) * id + 0.5f, 31);
    pack_5bit(q, y[b].qs, y[b].qh);
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  int q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_fp32(x[b].d);
    const float m = fp16_to_fp32(x[b].m);
    unpack_5bit(x[b].qs, x[b].qh, q);
    for (int i = 0; i < kQK; ++i) y[i] = d * q[i] + m;
  }
}

}  // namespace loam
