// Scalar gemv over interleaved weights (quant/interleave.h): each row is put back into the file
// layout and dotted by the scalar kernel, so results are those of the file layout exactly. Slow
// (a copy per row) and never preferred: it lets any kernel table compute with a model whose
// weights were interleaved for another table, and it is the specification the SIMD kernels over
// the interleaved layouts are tested against.
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/scalar/quant_kernels.h"
#include "quant/interleave.h"

namespace loam {

namespace {

using DotFn = float (*)(const void* w, const void* x, int64_t n);

template <DType kType, DotFn kDot>
void gemv_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                      int64_t n_cols, float* y) {
  const size_t group_bytes = interleaved_group_bytes(kType, n_cols);
  std::vector<uint8_t> row(row_bytes);  // [row_bytes] one row in the file layout
  for (int64_t g = 0; g < n_rows / kInterleaveRows; ++g) {
    for (int r = 0; r < kInterleaveRows; ++r) {
      deinterleave_row(kType, w + static_cast<size_t>(g) * group_bytes, n_cols, r, row.data());
      y[g * kInterleaveRows + r] = kDot(row.data(), x, n_cols);
    }
  }
}

void set(KernelTable& table, DType type, GemvFn fn) {
  TypeKernels& tk = table.weights[static_cast<uint32_t>(type)];
  tk.gemv_interleaved = fn;
  tk.prefer_interleaved = false;
}

}  // namespace

void register_scalar_interleaved_kernels(KernelTable& table) {
  set(table, DType::Q8_0, gemv_interleaved<DType::Q8_0, dot_q8_0_q8_0>);
  set(table, DType::Q4_0, gemv_interleaved<DType::Q4_0, dot_q4_0_q8_0>);
  set(table, DType::Q4_K, gemv_interleaved<DType::Q4_K, dot_q4_K_q8_K>);
  set(table, DType::Q5_K, gemv_interleaved<DType::Q5_K, dot_q5_K_q8_K>);
  set(table, DType::Q6_K, gemv_interleaved<DType::Q6_K, dot_q6_K_q8_K>);
}

}  // namespace loam
