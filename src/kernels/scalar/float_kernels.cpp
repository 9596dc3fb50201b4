// Scalar kernels for float weights: the reference every SIMD kernel is tested against, and the
// path CPUs without AVX2/NEON run. Sums use 8 independent partial sums (combined pairwise), which
// the compiler can vectorize with plain SSE2 and which keeps rounding close to the SIMD paths.
#include <cstring>

#include "core/fp16.h"
#include "kernels/kernel_table.h"
#include "model/ops.h"
#include "quant/blocks.h"

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

// The reference exponentials: model/ops.h's softmax and swiglu (glibc's expf), which the
// hand-computed tests in test_ops check. The scale is applied first, as its own rounding.
void softmax_scaled(float* x, int64_t n, float scale) {
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
  softmax(x, static_cast<int>(n));
}

void swiglu_rows(float* gate, const float* up, int64_t n) { swiglu(gate, up, static_cast<int>(n)); }

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

// The specification of RowSumFn: y[i] accumulates a[r] * value in row order, one rounding per
// multiply and per add.
template <class Value>
void row_sum_generic(Value value, const float* a, int64_t n_rows, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t i = 0; i < n; ++i) y[i] += a[r] * value(r, i);
}

void row_sum_f32(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n,
                 float* y) {
  row_sum_generic(
      [=](int64_t r, int64_t i) {
        float v;
        std::memcpy(&v, rows + static_cast<size_t>(r) * row_bytes + 4 * i, 4);
        return v;
      },
      a, n_rows, n, y);
}

void row_sum_f16(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n,
                 float* y) {
  row_sum_generic(
      [=](int64_t r, int64_t i) {
        uint16_t h;
        std::memcpy(&h, rows + static_cast<size_t>(r) * row_bytes + 2 * i, 2);
        return fp16_to_fp32(h);
      },
      a, n_rows, n, y);
}

// Q8_0 rows (n a multiple of 32): value = scale * code.
void row_sum_q8_0(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n,
                  float* y) {
  row_sum_generic(
      [=](int64_t r, int64_t i) {
        BlockQ8_0 b;
        std::memcpy(&b, rows + static_cast<size_t>(r) * row_bytes + (i / kQK) * sizeof(BlockQ8_0),
                    sizeof b);
        return fp16_to_fp32(b.d) * static_cast<float>(b.qs[i % kQK]);
      },
      a, n_rows, n, y);
}

}  // namespace

void register_scalar_float_kernels(KernelTable& table) {
  table.weights[static_cast<uint32_t>(DType::F32)] = {gemv_f32, DType::F32};
  table.weights[static_cast<uint32_t>(DType::F16)] = {gemv_f16, DType::F32};
  table.weights[static_cast<uint32_t>(DType::BF16)] = {gemv_bf16, DType::F32};
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
  table.row_sum[static_cast<uint32_t>(DType::F32)] = row_sum_f32;
  table.row_sum[static_cast<uint32_t>(DType::F16)] = row_sum_f16;
  table.row_sum[static_cast<uint32_t>(DType::Q8_0)] = row_sum_q8_0;
  table.softmax = softmax_scaled;
  table.swiglu = swiglu_rows;
}

}  // namespace loam
