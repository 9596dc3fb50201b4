// NEON kernels for float weights (F32; F16 widened with FCVTL; BF16 by a 16-bit shift), using
// only ARMv8.0 Advanced SIMD, which every AArch64 CPU has. Like the x86 files, a row's result
// depends only on its length, never on how many rows are computed together: every row runs the
// same sequence of fused multiply-adds (explicit vfmaq, so compiler contraction choices cannot
// differ between the 4-row and 1-row instantiations), and tails go through a zero-padded vector.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"

namespace loam {
namespace neon {
namespace {

struct LoadF32 {
  static constexpr int kBytes = 4;
  static float32x4_t load4(const uint8_t* p) { return vld1q_f32(reinterpret_cast<const float*>(p)); }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  // FCVTL (half -> single) is part of ARMv8.0; only half-precision arithmetic needs +fp16.
  static float32x4_t load4(const uint8_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
  }
};

struct LoadBF16 {
  static constexpr int kBytes = 2;
  static float32x4_t load4(const uint8_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
  }
};

// y[r] = dot(row r, x) for R rows: 4 accumulators of 4 lanes per row, 16 elements a step; the
// leftover 4-element chunks and the zero-padded last partial chunk rotate through the same
// accumulators, so the order of additions is a function of n alone.
template <class L, int R>
inline void dot_rows(const uint8_t* w, size_t row_bytes, const float* x, int64_t n, float* y) {
  float32x4_t acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < 4; ++k) acc[r][k] = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + i + 4);
    const float32x4_t x2 = vld1q_f32(x + i + 8), x3 = vld1q_f32(x + i + 12);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * row_bytes + i * L::kBytes;
      acc[r][0] = vfmaq_f32(acc[r][0], L::load4(p), x0);
      acc[r][1] = vfmaq_f32(acc[r][1], L::load4(p + 4 * L::kBytes), x1);
      acc[r][2] = vfmaq_f32(acc[r][2], L::load4(p + 8 * L::kBytes), x2);
      acc[r][3] = vfmaq_f32(acc[r][3], L::load4(p + 12 * L::kBytes), x3);
    }
  }
  int k = 0;
  for (; i + 4 <= n; i += 4, ++k) {
    const float32x4_t xv = vld1q_f32(x + i);
    for (int r = 0; r < R; ++r)
      acc[r][k] = vfmaq_f32(acc[r][k], L::load4(w + r * row_bytes + i * L::kBytes), xv);
  }
  if (i < n) {
    const int64_t left = n - i;  // 1..3
    float xt[4] = {0, 0, 0, 0};
    std::memcpy(xt, x + i, left * sizeof(float));
    const float32x4_t xv = vld1q_f32(xt);
    for (int r = 0; r < R; ++r) {
      uint8_t wt[16] = {0};
      std::memcpy(wt, w + r * row_bytes + i * L::kBytes, left * L::kBytes);
      acc[r][k] = vfmaq_f32(acc[r][k], L::load4(wt), xv);
    }
  }
  for (int r = 0; r < R; ++r) {
    const float32x4_t s = vaddq_f32(vaddq_f32(acc[r][0], acc[r][1]), vaddq_f32(acc[r][2], acc[r][3]));
    y[r] = vaddvq_f32(s);
  }
}

template <class L>
void gemv(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
          float* y) {
  const float* xf = static_cast<const float*>(x);
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) dot_rows<L, 4>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
  for (; r < n_rows; ++r) dot_rows<L, 1>(w + r * row_bytes, row_bytes, xf, n_cols, y + r);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float y;
  dot_rows<LoadF32, 1>(reinterpret_cast<const uint8_t*>(a), 0, b, n, &y);
  return y;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), a));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void register_float_kernels(KernelTable& table) {
  table.weights[static_cast<uint32_t>(DType::F32)].gemv = gemv<LoadF32>;
  table.weights[static_cast<uint32_t>(DType::F16)].gemv = gemv<LoadF16>;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemv = gemv<LoadBF16>;
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
}

}  // namespace neon
}  // namespace loam
