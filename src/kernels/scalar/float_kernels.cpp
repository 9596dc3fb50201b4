// Scalar kernels for float weights: the reference every SIMD kernel is tested against, and the
// path CPUs without AVX2/NEON run. Sums use 8 independent partial sums (combined pairwise), which
// the compiler can vectorize with plain SSE2 and which keeps rounding close to the SIMD paths.
#include <cstring>

#include "core/fp16.h"
#include "kernels/kernel_table.h"

namespace loam {

namespace {

template <class Load>
float dot_generic(const Load& load_w, const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += load_w(i + k) * x[i + k];
  }
  for (int k = 0; i < n; ++i, ++k) acc[k] += load_w(i) * x[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_generic([a](int64_t i) { return a[i]; }, b, n);
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void gemv_f32(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
              float* y) {
  const float* xf = static_cast<const float*>(x);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
    // memcpy-based load: llama2.c weights are only 4-byte aligned and the checks in UBSan want
    // no type-punned loads.
    y[r] = dot_generic(
        [row](int64_t i) {
          float v;
          std::memcpy(&v, row + 4 * i, 4);
          return v;
        },
        xf, n_cols);
  }
}

void gemv_f16(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
              float* y) {
  const float* xf = static_cast<const float*>(x);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
    y[r] = dot_generic(
        [row](int64_t i) {
          uint16_t h;
          std::memcpy(&h, row + 2 * i, 2);
          return fp16_to_fp32(h);
        },
        xf, n_cols);
  }
}

void gemv_bf16(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  const float* xf = static_cast<const float*>(x);
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
    y[r] = dot_generic(
        [row](int64_t i) {
          uint16_t h;
          std::memcpy(&h, row + 2 * i, 2);
          return bf16_to_fp32(h);
        },
        xf, n_cols);
  }
}

}  // namespace

void register_scalar_float_kernels(KernelTable& table) {
  table.weights[static_cast<uint32_t>(DType::F32)] = {gemv_f32, DType::F32};
  table.weights[static_cast<uint32_t>(DType::F16)] = {gemv_f16, DType::F32};
  table.weights[static_cast<uint32_t>(DType::BF16)] = {gemv_bf16, DType::F32};
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
}

}  // namespace loam
