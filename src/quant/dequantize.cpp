#include "quant/dequantize.h"

#include <cstring>

#include "core/fp16.h"
#include "kernels/kernels.h"

namespace loam {

// Quantized block types add their cases here (see src/quant/ for the block formats).
bool dequantize_quant_row(DType type, const void* src, float* dst, int64_t n);

bool dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return true;
    case DType::F16: {
      const uint16_t* h = static_cast<const uint16_t*>(src);
      if (const auto simd = kernels().f16_to_f32) {
        simd(h, dst, n);
        return true;
      }
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return true;
    }
    case DType::BF16: {
      const uint16_t* b = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(b[i]);
      return true;
    }
    default:
      return dequantize_quant_row(type, src, dst, n);
  }
}

}  // namespace loam
