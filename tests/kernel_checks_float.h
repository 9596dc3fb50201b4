// Checks of a SIMD kernel table's float kernels (F32 / F16 / BF16 gemv, dot_f32, axpy_f32)
// against the scalar table, shared by test_kernels_float (every ISA this CPU runs) and
// test_kernels_avx512_emulated. Random data, row counts and lengths that are not multiples of the
// unroll; each check_* function records failures through the harness.
#pragma once

#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "core/fp16.h"
#include "harness/test.h"
#include "kernels/kernels.h"

namespace kernel_checks {

using namespace loam;

// Random row-major weights of the given type: [rows][cols].
inline std::vector<uint8_t> random_weights(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const size_t rb = dtype_row_bytes(type, cols);
  std::vector<uint8_t> w(rb * rows);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = dist(rng);
    if (type == DType::F32) {
      std::memcpy(&w[i * 4], &v, 4);
    } else {
      const uint16_t h = type == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
      std::memcpy(&w[i * 2], &h, 2);
    }
  }
  return w;
}

// Element i of a row, from the scalar definition of the type.
inline float weight_value(DType type, const uint8_t* row, int64_t i) {
  float w;
  if (type == DType::F32) {
    std::memcpy(&w, row + 4 * i, 4);
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    w = type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
  }
  return w;
}

// Exact value of the dot product, in double, from the scalar definition of each element.
inline double exact_dot(DType type, const uint8_t* row, const float* x, int64_t n, double* abs_sum) {
  double s = 0, a = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float w = weight_value(type, row, i);
    s += static_cast<double>(w) * x[i];
    a += std::fabs(static_cast<double>(w) * x[i]);
  }
  *abs_sum = a;
  return s;
}

// gemv within 1e-5 of the sum of |w x| (a sum with cancellation has no meaningful relative error
// of its own), odd lengths and row counts.
inline void check_float_gemv(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t cols : {1, 3, 8, 15, 16, 17, 31, 32, 33, 63, 65, 100, 1000, 2048}) {
      for (int64_t rows : {1, 3, 4, 5, 9}) {
        auto w = random_weights(type, rows, cols, rng);
        std::vector<float> x(cols), ys(rows), yv(rows);
        std::normal_distribution<float> dist(0.0f, 1.0f);
        for (float& v : x) v = dist(rng);
        const size_t rb = dtype_row_bytes(type, cols);
        scalar.weights[static_cast<uint32_t>(type)].gemv(w.data(), rb, rows, x.data(), cols, ys.data());
        simd.weights[static_cast<uint32_t>(type)].gemv(w.data(), rb, rows, x.data(), cols, yv.data());
        for (int64_t r = 0; r < rows; ++r) {
          double abs_sum;
          exact_dot(type, w.data() + r * rb, x.data(), cols, &abs_sum);
          CHECK_NEAR(yv[r], ys[r], 1e-5 * abs_sum);
        }
      }
    }
  }
}

// The AVX2 float order (x86_avx2/float_kernels.cpp), written out one lane at a time: lane k keeps
// acc_k = fma(w[i + k], x[i + k], acc_k) for i = 0, 8, 16, ..., past the row's end with zeros;
// m_j = acc_j + acc_(j+4); the result is (m0 + m1) + (m2 + m3) (the scalar kernel's tree, but with
// fused multiply-adds).
inline float avx2_float_order_dot(DType type, const uint8_t* row, const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; i += 8) {
    for (int k = 0; k < 8; ++k) {
      const bool in = i + k < n;
      acc[k] = std::fma(in ? weight_value(type, row, i + k) : 0.0f, in ? x[i + k] : 0.0f, acc[k]);
    }
  }
  float m[4];
  for (int j = 0; j < 4; ++j) m[j] = acc[j] + acc[j + 4];
  return (m[0] + m[1]) + (m[2] + m[3]);
}

// The table's gemv (and gemm, one and several activation rows) against avx2_float_order_dot, bit
// for bit: short and long rows, tails, row counts around the 8- and 4-row steps.
inline void check_avx2_float_order(const KernelTable& avx2, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    const TypeKernels& k = avx2.weights[static_cast<uint32_t>(type)];
    for (int64_t cols : {1, 5, 8, 13, 16, 64, 77, 128, 256, 257, 300, 1024, 1031}) {
      for (int64_t rows : {1, 4, 8, 13}) {
        auto w = random_weights(type, rows, cols, rng);
        const size_t rb = dtype_row_bytes(type, cols);
        const int n_tok = 3;
        std::vector<float> x(static_cast<size_t>(cols) * n_tok), y(rows), yg(static_cast<size_t>(rows) * n_tok);
        for (float& v : x) v = dist(rng);
        k.gemv(w.data(), rb, rows, x.data(), cols, y.data());
        k.gemm(w.data(), rb, rows, x.data(), cols * sizeof(float), n_tok, cols, yg.data(), rows);
        for (int64_t r = 0; r < rows; ++r) {
          const float want = avx2_float_order_dot(type, w.data() + r * rb, x.data(), cols);
          CHECK(std::memcmp(&y[r], &want, sizeof(float)) == 0);
          for (int t = 0; t < n_tok; ++t) {
            const float want_t = avx2_float_order_dot(type, w.data() + r * rb, &x[t * cols], cols);
            CHECK(std::memcmp(&yg[t * rows + r], &want_t, sizeof(float)) == 0);
          }
        }
      }
    }
  }
}

// Threads split matrices by rows: a row must give the same bits alone or in a group: short rows
// (which the AVX2 gemv takes 8, then 4, then 1 at a time) and long ones (4 at a time).
inline void check_float_row_independence(const KernelTable& simd, std::mt19937& rng) {
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    for (const auto& shape : {std::pair<int64_t, int64_t>{7, 77}, {21, 77}, {29, 301}}) {
      const int64_t rows = shape.first, cols = shape.second;
      auto w = random_weights(type, rows, cols, rng);
      std::vector<float> x(cols, 0.5f), all(rows), one(1);
      for (int64_t i = 0; i < cols; ++i) x[i] = std::sin(static_cast<float>(i));
      const size_t rb = dtype_row_bytes(type, cols);
      simd.weights[static_cast<uint32_t>(type)].gemv(w.data(), rb, rows, x.data(), cols, all.data());
      for (int64_t r = 0; r < rows; ++r) {
        simd.weights[static_cast<uint32_t>(type)].gemv(w.data() + r * rb, rb, 1, x.data(), cols, one.data());
        CHECK(std::memcmp(&one[0], &all[r], sizeof(float)) == 0);
      }
    }
  }
}

// A table's gemm gives its gemv's bits for every activation row: odd lengths (tails of 1-15), long
// rows, 1-9 activation rows at once (every group size and remainder), padded activation and result
// strides, weight rows in tiles and remainders (37 rows). Returns how
// many float types have a gemm on this table (a check that found none tests nothing).
inline int check_float_gemm(const KernelTable& simd, std::mt19937& rng) {
  int with_gemm = 0;
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    const TypeKernels& k = simd.weights[static_cast<uint32_t>(type)];
    if (k.gemm == nullptr) continue;
    ++with_gemm;
    // Short rows (attention's key rows) and long ones, which kernels may tile differently
    // (x86_avx2/float_kernels.cpp: blocks of 64 rows up to 256 columns): both sides of that
    // boundary, exact multiples, tails, and tiles of rows with remainders (131 short rows: two
    // blocks and 3 rows; head sizes 64 and 128).
    for (int64_t cols : {1, 7, 8, 9, 16, 23, 64, 100, 128, 256, 257, 300, 513, 1024, 1031, 1544}) {
      const int64_t rows = cols >= 256 ? 37 : cols == 64 || cols == 128 || cols == 23 ? 131 : 5;
      const size_t rb = dtype_row_bytes(type, cols) + 6;  // rows 6 bytes further apart
      std::vector<uint8_t> w(rb * rows);
      for (int64_t r = 0; r < rows; ++r) {
        const std::vector<uint8_t> one_row = random_weights(type, 1, cols, rng);
        std::memcpy(&w[r * rb], one_row.data(), one_row.size());
      }
      const int max_tokens = 9;
      const size_t xs = static_cast<size_t>(cols) + 3, ys = static_cast<size_t>(rows) + 2;
      std::vector<float> x(xs * max_tokens);
      for (float& v : x) v = dist(rng);
      for (int n = 1; n <= max_tokens; ++n) {
        std::vector<float> got(ys * n, -777.0f), want(rows);
        k.gemm(w.data(), rb, rows, x.data(), xs * sizeof(float), n, cols, got.data(), ys);
        for (int t = 0; t < n; ++t) {
          k.gemv(w.data(), rb, rows, &x[t * xs], cols, want.data());
          for (int64_t r = 0; r < rows; ++r) CHECK(std::memcmp(&want[r], &got[t * ys + r], sizeof(float)) == 0);
          for (size_t r = static_cast<size_t>(rows); r < ys; ++r) CHECK_EQ(got[t * ys + r], -777.0f);
        }
      }
    }
  }
  return with_gemm;
}

inline void check_dot_axpy(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t n : {1, 5, 16, 17, 48, 64, 100, 128}) {
    std::vector<float> a(n), b(n), y1(n), y2(n);
    double abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      a[i] = dist(rng);
      b[i] = dist(rng);
      y1[i] = y2[i] = dist(rng);
      abs_sum += std::fabs(a[i] * b[i]);
    }
    CHECK_NEAR(simd.dot_f32(a.data(), b.data(), n), scalar.dot_f32(a.data(), b.data(), n), 1e-5 * abs_sum);
    scalar.axpy_f32(0.75f, a.data(), y1.data(), n);
    simd.axpy_f32(0.75f, a.data(), y2.data(), n);
    for (int64_t i = 0; i < n; ++i) CHECK_NEAR(y2[i], y1[i], 1e-6 * (1 + std::fabs(y1[i])));
  }
}

}  // namespace kernel_checks
