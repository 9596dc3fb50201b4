// DType-generic entry points over the block quantizers of quant/quantize.h. dequantize_row()
// (quant/dequantize.h) falls through to dequantize_quant_row() for every non-float type.
#include <cstdint>

#include "loam/dtype.h"
#include "quant/quantize.h"

namespace loam {

namespace {

bool whole_blocks(DType type, int64_t n) {
  const int block = dtype_info(type).block_size;
  return n >= 0 && block > 0 && n % block == 0;
}

}  // namespace

bool is_quant_type(DType type) {
  switch (type) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_K:
      return true;
    default:
      return false;
  }
}

bool dequantize_quant_row(DType type, const void* src, float* dst, int64_t n) {
  if (!is_quant_type(type) || !whole_blocks(type, n)) return false;
  switch (type) {
    case DType::Q8_0: dequantize_row_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); break;
    case DType::Q4_0: dequantize_row_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); break;
    case DType::Q4_1: dequantize_row_q4_1(static_cast<const BlockQ4_1*>(src), dst, n); break;
    case DType::Q5_0: dequantize_row_q5_0(static_cast<const BlockQ5_0*>(src), dst, n); break;
    case DType::Q5_1: dequantize_row_q5_1(static_cast<const BlockQ5_1*>(src), dst, n); break;
    case DType::Q4_K: dequantize_row_q4_K(static_cast<const BlockQ4_K*>(src), dst, n); break;
    case DType::Q5_K: dequantize_row_q5_K(static_cast<const BlockQ5_K*>(src), dst, n); break;
    case DType::Q6_K: dequantize_row_q6_K(static_cast<const BlockQ6_K*>(src), dst, n); break;
    case DType::Q8_K: dequantize_row_q8_K(static_cast<const BlockQ8_K*>(src), dst, n); break;
    default: return false;
  }
  return true;
}

bool quantize_row(DType type, const float* src, void* dst, int64_t n) {
  if (!is_quant_type(type) || !whole_blocks(type, n)) return false;
  switch (type) {
    case DType::Q8_0: quantize_row_q8_0(src, static_cast<BlockQ8_0*>(dst), n); break;
    case DType::Q4_0: quantize_row_q4_0(src, static_cast<BlockQ4_0*>(dst), n); break;
    case DType::Q4_1: quantize_row_q4_1(src, static_cast<BlockQ4_1*>(dst), n); break;
    case DType::Q5_0: quantize_row_q5_0(src, static_cast<BlockQ5_0*>(dst), n); break;
    case DType::Q5_1: quantize_row_q5_1(src, static_cast<BlockQ5_1*>(dst), n); break;
    case DType::Q4_K: quantize_row_q4_K(src, static_cast<BlockQ4_K*>(dst), n); break;
    case DType::Q5_K: quantize_row_q5_K(src, static_cast<BlockQ5_K*>(dst), n); break;
    case DType::Q6_K: quantize_row_q6_K(src, static_cast<BlockQ6_K*>(dst), n); break;
    case DType::Q8_K: quantize_row_q8_K(src, static_cast<BlockQ8_K*>(dst), n); break;
    default: return false;
  }
  return true;
}

}  // namespace loam
