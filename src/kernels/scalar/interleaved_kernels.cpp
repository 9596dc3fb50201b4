// Scalar gemv over interleaved weights (quant/interleave.h): each row is put back into the file
// layout and dotted by the scalar kernel, so results are those of the file layout exactly. Slow
// (a copy per row) and never preferred: it lets any kernel table compute with a model whose
// weights were interleaved for another table, and it is the specification the SIMD kernels over
// the interleaved layout are tested against.
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/scalar/quant_kernels.h"
#include "quant/interleave.h"

namespace loam {

namespace {

void gemv_q4_0_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                           int64_t n_cols, float* y) {
  std::vector<uint8_t> row(row_bytes);  // [row_bytes] one row in the file layout
  for (int64_t g = 0; g < n_rows / kInterleaveRows; ++g) {
    const uint8_t* group = w + static_cast<size_t>(g) * kInterleaveRows * row_bytes;
    for (int r = 0; r < kInterleaveRows; ++r) {
      deinterleave_row(DType::Q4_0, group, row_bytes, r, row.data());
      y[g * kInterleaveRows + r] = dot_q4_0_q8_0(row.data(), x, n_cols);
    }
  }
}

}  // namespace

void register_scalar_interleaved_kernels(KernelTable& table) {
  TypeKernels& q4_0 = table.weights[static_cast<uint32_t>(DType::Q4_0)];
  q4_0.gemv_interleaved = gemv_q4_0_interleaved;
  q4_0.prefer_interleaved = false;
}

}  // namespace loam
