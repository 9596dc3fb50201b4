// The AVX2 F16 gemm (float_kernels.cpp), callable by the AVX-512 F16 gemm for what it leaves to it
// (attention's short key rows, rows whose length is not a multiple of 8, the last n_rows % 8 rows):
// both give the AVX2 gemv's bits, so a matrix may be split between them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace loam {
namespace avx2 {

// Rows up to this many columns are attention's key rows: the gemms run them in blocks of kKeyBlock
// rows, each block staying in L1 while every group of query heads passes over it (this file's
// kernel and the AVX-512 one, which both split a matrix the same way).
constexpr int64_t kShortRow = 256;
constexpr int64_t kKeyBlock = 64;

void gemm_f16(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
              int n_tokens, int64_t n_cols, float* y, size_t y_stride);

}  // namespace avx2
}  // namespace loam
