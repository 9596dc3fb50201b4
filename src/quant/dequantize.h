// Row conversion from any supported storage type to f32 (embedding lookup, tests, quantize).
#pragma once

#include <cstdint>

#include "loam/dtype.h"

namespace loam {

// Converts n elements of `type` at src to f32. Returns false when the type has no converter or
// n is not a whole number of its blocks.
bool dequantize_row(DType type, const void* src, float* dst, int64_t n);

}  // namespace loam
