// Tensor element types, numbered as in GGUF files (ggml_type), with their block geometry.
#pragma once

#include <cstddef>
#include <cstdint>

namespace loam {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
};

constexpr uint32_t kDTypeCount = 31;

struct DTypeInfo {
  const char* name;     // "Q4_K"; nullptr for numbers no GGUF type uses
  int block_size;       // elements per block (1 for plain types)
  int type_size;        // bytes per block
};

// Geometry for a raw type number from a file; name == nullptr when the number is unknown.
DTypeInfo dtype_info(uint32_t raw_type);
inline DTypeInfo dtype_info(DType t) { return dtype_info(static_cast<uint32_t>(t)); }
inline const char* dtype_name(DType t) { return dtype_info(t).name; }

// Bytes of one row of n elements; 0 when n is not a whole number of blocks.
size_t dtype_row_bytes(DType t, int64_t n);

}  // namespace loam
