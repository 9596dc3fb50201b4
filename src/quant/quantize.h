// Scalar reference quantization and dequantization of rows of blocks: the specification every
// SIMD kernel and every file must agree with. n (elements) must be a multiple of the type's block
// (32, or 256 for the K types); callers check it (the DType-generic entry points do).
//
// The 32-element quantizers follow the formats' defining rules (scale from the block's extreme
// value), so their output matches ggml's reference files. The K quantizers search scales and mins
// by weighted least squares (quant/scale_search.h) and then refine the packed sub-block scales.
#pragma once

#include <cstdint>
#include <cstring>

#include "loam/dtype.h"
#include "quant/blocks.h"

namespace loam {

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n);

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q4_K(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_K(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_K(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_K(const BlockQ8_K* x, float* y, int64_t n);

// Whether this module can quantize / dequantize `type` (the block types above).
bool is_quant_type(DType type);
// Type-generic forms: false for a type not listed above or n not a multiple of its block.
bool quantize_row(DType type, const float* x, void* y, int64_t n);
bool dequantize_quant_row(DType type, const void* x, float* y, int64_t n);

// Round to nearest, ties to even (the rounding the K formats' reference quantizers use), for
// |v| < 2^22: adding 1.5 * 2^23 pushes the fraction out of the float's mantissa. static for the
// same reason as in quant/k_scales.h.
static inline int round_nearest(float v) {
  const float shifted = v + 12582912.0f;
  uint32_t bits;
  static_assert(sizeof bits == sizeof shifted, "float must be 32-bit");
  std::memcpy(&bits, &shifted, sizeof bits);
  return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}

}  // namespace loam
