#include "loam/dtype.h"

namespace loam {

DTypeInfo dtype_info(uint32_t raw_type) {
  // Block sizes and byte sizes of every type GGUF defines; they let the reader check that a
  // tensor's bytes fit in the file even when its type is one we cannot compute with.
  static const DTypeInfo kTable[kDTypeCount] = {
      {"F32", 1, 4},        {"F16", 1, 2},       {"Q4_0", 32, 18},    {"Q4_1", 32, 20},
      {nullptr, 0, 0},      {nullptr, 0, 0},     {"Q5_0", 32, 22},    {"Q5_1", 32, 24},
      {"Q8_0", 32, 34},     {"Q8_1", 32, 36},    {"Q2_K", 256, 84},   {"Q3_K", 256, 110},
      {"Q4_K", 256, 144},   {"Q5_K", 256, 176},  {"Q6_K", 256, 210},  {"Q8_K", 256, 292},
      {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74}, {"IQ3_XXS", 256, 98}, {"IQ1_S", 256, 50},
      {"IQ4_NL", 32, 18},   {"IQ3_S", 256, 110}, {"IQ2_S", 256, 82},  {"IQ4_XS", 256, 136},
      {"I8", 1, 1},         {"I16", 1, 2},       {"I32", 1, 4},       {"I64", 1, 8},
      {"F64", 1, 8},        {"IQ1_M", 256, 56},  {"BF16", 1, 2},
  };
  if (raw_type >= kDTypeCount) return {nullptr, 0, 0};
  return kTable[raw_type];
}

size_t dtype_row_bytes(DType t, int64_t n) {
  const DTypeInfo info = dtype_info(t);
  if (info.name == nullptr || n < 0 || n % info.block_size != 0) return 0;
  return static_cast<size_t>(n / info.block_size) * static_cast<size_t>(info.type_size);
}

}  // namespace loam
