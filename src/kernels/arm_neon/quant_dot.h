// NEON integer-dot kernels for quantized weights, written once over the one operation that differs
// between CPUs: the 16-lane int8 dot product (SDOT with dotprod, SMULL + SADALP without). Included
// by quant_kernels.cpp (ARMv8.0) and quant_kernels_dotprod.cpp (+dotprod), each instantiating it
// with its own policy.
//
// Everything here sits in an unnamed namespace on purpose: each of those translation units gets
// its own private copy, so the linker can never merge a +dotprod instantiation into code that runs
// on a CPU without dotprod. Include this file from nowhere else.
//
// Exactness: per block (32 elements) or super-block (256) the integer sums are exact, so they
// equal the scalar kernels' sums whatever the lane order. 32-element types accumulate the scaled
// block sums lane-wise in float (one FMA per lane per block); K types combine the integer
// super-block sums in scalar float exactly as the scalar kernels write it. Each row is computed on
// its own, so its result never depends on how many rows one call covers.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "quant/blocks.h"

namespace loam {
namespace neon {
namespace {

// Not core/fp16.h: its inline functions would be emitted here under +dotprod (see above).
// Half -> single is exact and needs only ARMv8.0 (FCVT).
inline float half_to_float(uint16_t h) {
  __fp16 f;
  std::memcpy(&f, &h, sizeof f);
  return static_cast<float>(f);
}

// acc lanes += sums of the 16 int8 lanes of a, in groups of four adjacent lanes.
inline int32x4_t add_lanes(int32x4_t acc, int8x16_t a) { return vpadalq_s16(acc, vpaddlq_s8(a)); }

inline int8x16_t low_nibbles(uint8x16_t v) { return vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))); }
inline int8x16_t high_nibbles(uint8x16_t v) { return vreinterpretq_s8_u8(vshrq_n_u8(v, 4)); }

// Bit i%8 of byte i/8 of a 32-bit little-endian field, as 0x10 or 0 per lane, for 16 lanes
// starting at byte `qh` (lanes 0..7 from qh[0], 8..15 from qh[1]).
inline uint8x16_t fifth_bits(const uint8_t* qh) {
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bytes = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
  return vandq_u8(vtstq_u8(bytes, vld1q_u8(kBit)), vdupq_n_u8(0x10));
}

// ---- 32-element types against Q8_0 activations ---------------------------------------------
// Each kernel adds one block's contribution, lane-wise, to acc.

template <class D>
inline float32x4_t block_q8_0(float32x4_t acc, const BlockQ8_0& w, const BlockQ8_0& x) {
  int32x4_t s = D::dot(vdupq_n_s32(0), vld1q_s8(w.qs), vld1q_s8(x.qs));
  s = D::dot(s, vld1q_s8(w.qs + 16), vld1q_s8(x.qs + 16));
  return vfmaq_n_f32(acc, vcvtq_f32_s32(s), half_to_float(w.d) * half_to_float(x.d));
}

template <class D>
inline float32x4_t block_q4_0(float32x4_t acc, const BlockQ4_0& w, const BlockQ8_0& x) {
  const uint8x16_t v = vld1q_u8(w.qs);
  const int8x16_t eight = vdupq_n_s8(8);
  int32x4_t s = D::dot(vdupq_n_s32(0), vsubq_s8(low_nibbles(v), eight), vld1q_s8(x.qs));
  s = D::dot(s, vsubq_s8(high_nibbles(v), eight), vld1q_s8(x.qs + 16));
  return vfmaq_n_f32(acc, vcvtq_f32_s32(s), half_to_float(w.d) * half_to_float(x.d));
}

// (d q + m) . (dx a) = d dx sum(q a) + m dx sum(a), as in the scalar kernel.
template <class D>
inline float32x4_t block_offset(float32x4_t acc, int8x16_t q0, int8x16_t q1, uint16_t d,
                                uint16_t m, const BlockQ8_0& x) {
  const int8x16_t a0 = vld1q_s8(x.qs), a1 = vld1q_s8(x.qs + 16);
  const int32x4_t s = D::dot(D::dot(vdupq_n_s32(0), q0, a0), q1, a1);
  const int32x4_t a_sum = add_lanes(add_lanes(vdupq_n_s32(0), a0), a1);
  const float dx = half_to_float(x.d);
  acc = vfmaq_n_f32(acc, vcvtq_f32_s32(s), half_to_float(d) * dx);
  return vfmaq_n_f32(acc, vcvtq_f32_s32(a_sum), half_to_float(m) * dx);
}

template <class D>
inline float32x4_t block_q4_1(float32x4_t acc, const BlockQ4_1& w, const BlockQ8_0& x) {
  const uint8x16_t v = vld1q_u8(w.qs);
  return block_offset<D>(acc, low_nibbles(v), high_nibbles(v), w.d, w.m, x);
}

template <class D>
inline float32x4_t block_q5_0(float32x4_t acc, const BlockQ5_0& w, const BlockQ8_0& x) {
  const uint8x16_t v = vld1q_u8(w.qs);
  const int8x16_t sixteen = vdupq_n_s8(16);
  const int8x16_t q0 = vorrq_s8(low_nibbles(v), vreinterpretq_s8_u8(fifth_bits(w.qh)));
  const int8x16_t q1 = vorrq_s8(high_nibbles(v), vreinterpretq_s8_u8(fifth_bits(w.qh + 2)));
  int32x4_t s = D::dot(vdupq_n_s32(0), vsubq_s8(q0, sixteen), vld1q_s8(x.qs));
  s = D::dot(s, vsubq_s8(q1, sixteen), vld1q_s8(x.qs + 16));
  return vfmaq_n_f32(acc, vcvtq_f32_s32(s), half_to_float(w.d) * half_to_float(x.d));
}

template <class D>
inline float32x4_t block_q5_1(float32x4_t acc, const BlockQ5_1& w, const BlockQ8_0& x) {
  const uint8x16_t v = vld1q_u8(w.qs);
  const int8x16_t q0 = vorrq_s8(low_nibbles(v), vreinterpretq_s8_u8(fifth_bits(w.qh)));
  const int8x16_t q1 = vorrq_s8(high_nibbles(v), vreinterpretq_s8_u8(fifth_bits(w.qh + 2)));
  return block_offset<D>(acc, q0, q1, w.d, w.m, x);
}

// One row: blocks alternate between two accumulators (two independent FMA chains), a pattern
// fixed by the row length alone.
template <class W, float32x4_t (*Block)(float32x4_t, const W&, const BlockQ8_0&)>
float dot_row_32(const uint8_t* row, const BlockQ8_0* x, int64_t n_blocks) {
  const W* w = reinterpret_cast<const W*>(row);
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
  int64_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    acc0 = Block(acc0, w[b], x[b]);
    acc1 = Block(acc1, w[b + 1], x[b + 1]);
  }
  if (b < n_blocks) acc0 = Block(acc0, w[b], x[b]);
  return vaddvq_f32(vaddq_f32(acc0, acc1));
}

template <class W, float32x4_t (*Block)(float32x4_t, const W&, const BlockQ8_0&)>
void gemv_32(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
             float* y) {
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);  // [n_cols / 32]
  for (int64_t r = 0; r < n_rows; ++r)
    y[r] = dot_row_32<W, Block>(w + static_cast<size_t>(r) * row_bytes, xb, n_cols / kQK);
}

// ---- K types against Q8_K activations -------------------------------------------------------

// The 12-byte packing of eight 6-bit scales and mins (quant/k_scales.h is the specification).
inline void unpack_k_scales(const uint8_t* p, uint8_t sc[8], uint8_t m[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = p[j] & 63;
    m[j] = p[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((p[j + 8] & 0x0F) | ((p[j] >> 6) << 4));
    m[j + 4] = static_cast<uint8_t>((p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4));
  }
}

// sum_j m[j] * (sum of the 32 activations of sub-block j), from Q8_K's 16-element bsums.
inline int32_t k_min_sum(const uint8_t m[8], const BlockQ8_K& x) {
  // [8] pair sums: |sum| <= 32 * 128 fits int16
  const int16x8_t pairs = vpaddq_s16(vld1q_s16(x.bsums), vld1q_s16(x.bsums + 8));
  const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(m)));
  const int32x4_t prod = vmlal_high_s16(vmull_s16(vget_low_s16(pairs), vget_low_s16(mins)), pairs, mins);
  return vaddvq_s32(prod);
}

// Q4_K / Q5_K: each 64-element chunk c holds sub-block 2c in the low nibbles of its 32 bytes and
// sub-block 2c+1 in the high nibbles; Q5_K adds bit 2c / 2c+1 of qh[l] as bit 4.
template <class D, bool kFifthBit>
inline int32_t k4_scaled_sum(const uint8_t* qs, const uint8_t* qh, const uint8_t sc[8],
                             const int8_t* a) {
  int32x4_t scaled = vdupq_n_s32(0);
  uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
  if (kFifthBit) {
    h0 = vld1q_u8(qh);
    h1 = vld1q_u8(qh + 16);
  }
  for (int c = 0; c < 4; ++c) {
    const uint8x16_t v0 = vld1q_u8(qs + 32 * c), v1 = vld1q_u8(qs + 32 * c + 16);
    int8x16_t lo0 = low_nibbles(v0), lo1 = low_nibbles(v1);
    int8x16_t hi0 = high_nibbles(v0), hi1 = high_nibbles(v1);
    if (kFifthBit) {
      // bit 0 of the remaining qh goes to sub-block 2c, bit 1 to 2c+1; then drop both
      const uint8x16_t one = vdupq_n_u8(1), two = vdupq_n_u8(2);
      lo0 = vorrq_s8(lo0, vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(h0, one), 4)));
      lo1 = vorrq_s8(lo1, vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(h1, one), 4)));
      hi0 = vorrq_s8(hi0, vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(h0, two), 3)));
      hi1 = vorrq_s8(hi1, vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(h1, two), 3)));
      h0 = vshrq_n_u8(h0, 2);
      h1 = vshrq_n_u8(h1, 2);
    }
    const int8_t* ac = a + 64 * c;
    int32x4_t s_lo = D::dot(vdupq_n_s32(0), lo0, vld1q_s8(ac));
    s_lo = D::dot(s_lo, lo1, vld1q_s8(ac + 16));
    int32x4_t s_hi = D::dot(vdupq_n_s32(0), hi0, vld1q_s8(ac + 32));
    s_hi = D::dot(s_hi, hi1, vld1q_s8(ac + 48));
    scaled = vmlaq_n_s32(scaled, s_lo, sc[2 * c]);
    scaled = vmlaq_n_s32(scaled, s_hi, sc[2 * c + 1]);
  }
  return vaddvq_s32(scaled);
}

template <class D, class W, bool kFifthBit>
float dot_row_k4(const uint8_t* row, const BlockQ8_K* x, int64_t n_blocks) {
  const W* w = reinterpret_cast<const W*>(row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t sc[8], m[8];
    unpack_k_scales(w[b].scales, sc, m);
    const uint8_t* qh = nullptr;
    if constexpr (kFifthBit) qh = w[b].qh;
    const int32_t scaled = k4_scaled_sum<D, kFifthBit>(w[b].qs, qh, sc, x[b].qs);
    const int32_t mins = k_min_sum(m, x[b]);
    sum += half_to_float(w[b].d) * x[b].d * static_cast<float>(scaled) -
           half_to_float(w[b].dmin) * x[b].d * static_cast<float>(mins);
  }
  return sum;
}

// Q6_K: element 128h + 32k + l has its low 4 bits in ql[64h + 32(k&1) + l] (low nibble for
// k < 2, high for k >= 2) and bits 4..5 in qh[32h + l] bits 2k..2k+1; scale per 16 elements.
template <class D>
inline int32_t q6_k_scaled_sum(const BlockQ6_K& w, const int8_t* a) {
  const uint8x16_t low4 = vdupq_n_u8(0x0F), top2 = vdupq_n_u8(0x30);
  const int8x16_t offset = vdupq_n_s8(32);
  int32x4_t scaled = vdupq_n_s32(0);
  for (int h = 0; h < 2; ++h) {
    for (int half16 = 0; half16 < 2; ++half16) {
      const int l0 = 16 * half16;
      const uint8x16_t ql_a = vld1q_u8(w.ql + 64 * h + l0);       // k = 0 (low), 2 (high)
      const uint8x16_t ql_b = vld1q_u8(w.ql + 64 * h + 32 + l0);  // k = 1 (low), 3 (high)
      const uint8x16_t qh = vld1q_u8(w.qh + 32 * h + l0);
      uint8x16_t code[4];
      code[0] = vorrq_u8(vandq_u8(ql_a, low4), vandq_u8(vshlq_n_u8(qh, 4), top2));
      code[1] = vorrq_u8(vandq_u8(ql_b, low4), vandq_u8(vshlq_n_u8(qh, 2), top2));
      code[2] = vorrq_u8(vshrq_n_u8(ql_a, 4), vandq_u8(qh, top2));
      code[3] = vorrq_u8(vshrq_n_u8(ql_b, 4), vandq_u8(vshrq_n_u8(qh, 2), top2));
      for (int k = 0; k < 4; ++k) {
        const int e = 128 * h + 32 * k + l0;
        const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(code[k]), offset);
        const int32x4_t s = D::dot(vdupq_n_s32(0), q, vld1q_s8(a + e));
        scaled = vmlaq_n_s32(scaled, s, w.scales[e / 16]);
      }
    }
  }
  return vaddvq_s32(scaled);
}

template <class D>
float dot_row_q6_K(const uint8_t* row, const BlockQ8_K* x, int64_t n_blocks) {
  const BlockQ6_K* w = reinterpret_cast<const BlockQ6_K*>(row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const int32_t s = q6_k_scaled_sum<D>(w[b], x[b].qs);
    sum += half_to_float(w[b].d) * x[b].d * static_cast<float>(s);
  }
  return sum;
}

template <float (*DotRow)(const uint8_t*, const BlockQ8_K*, int64_t)>
void gemv_k(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
            float* y) {
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);  // [n_cols / 256]
  for (int64_t r = 0; r < n_rows; ++r)
    y[r] = DotRow(w + static_cast<size_t>(r) * row_bytes, xb, n_cols / kQKK);
}

// ---- registration ---------------------------------------------------------------------------

inline void set_gemv(KernelTable& table, DType weight, GemvFn fn, DType act) {
  table.weights[static_cast<uint32_t>(weight)].gemv = fn;
  table.weights[static_cast<uint32_t>(weight)].act_type = act;
}

// Activation quantizers stay the scalar ones already in the table (one pass over x per matmul).
template <class D>
void register_quant_gemv(KernelTable& table) {
  set_gemv(table, DType::Q8_0, gemv_32<BlockQ8_0, block_q8_0<D>>, DType::Q8_0);
  set_gemv(table, DType::Q4_0, gemv_32<BlockQ4_0, block_q4_0<D>>, DType::Q8_0);
  set_gemv(table, DType::Q4_1, gemv_32<BlockQ4_1, block_q4_1<D>>, DType::Q8_0);
  set_gemv(table, DType::Q5_0, gemv_32<BlockQ5_0, block_q5_0<D>>, DType::Q8_0);
  set_gemv(table, DType::Q5_1, gemv_32<BlockQ5_1, block_q5_1<D>>, DType::Q8_0);
  set_gemv(table, DType::Q4_K, gemv_k<dot_row_k4<D, BlockQ4_K, false>>, DType::Q8_K);
  set_gemv(table, DType::Q5_K, gemv_k<dot_row_k4<D, BlockQ5_K, true>>, DType::Q8_K);
  set_gemv(table, DType::Q6_K, gemv_k<dot_row_q6_K<D>>, DType::Q8_K);
}

}  // namespace
}  // namespace neon
}  // namespace loam
