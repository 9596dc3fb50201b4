// Every SIMD float kernel against the scalar kernel, on random data with row counts and lengths
// that are not multiples of the unroll, for each ISA this machine can run.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "harness/test.h"
#include "kernels/kernels.h"

using namespace loam;

namespace {

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Avx2, Isa::Avx512, Isa::Neon})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// Random row-major weights of the given type: [rows][cols].
std::vector<uint8_t> random_weights(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
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

// Exact value of the dot product, in double, from the scalar definition of each element.
double exact_dot(DType type, const uint8_t* row, const float* x, int64_t n, double* abs_sum) {
  double s = 0, a = 0;
  for (int64_t i = 0; i < n; ++i) {
    float w;
    if (type == DType::F32) {
      std::memcpy(&w, row + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      w = type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
    s += static_cast<double>(w) * x[i];
    a += std::fabs(static_cast<double>(w) * x[i]);
  }
  *abs_sum = a;
  return s;
}

}  // namespace

TEST_CASE("scalar float gemv matches the exact dot product") {
  std::mt19937 rng(1);
  const KernelTable& scalar = *kernel_table_for(Isa::Scalar);
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t cols : {1, 7, 8, 31, 64, 100, 257}) {
      const int64_t rows = 5;
      auto w = random_weights(type, rows, cols, rng);
      std::vector<float> x(cols), y(rows);
      std::normal_distribution<float> dist(0.0f, 1.0f);
      for (float& v : x) v = dist(rng);
      scalar.weights[static_cast<uint32_t>(type)].gemv(w.data(), dtype_row_bytes(type, cols), rows,
                                                       x.data(), cols, y.data());
      for (int64_t r = 0; r < rows; ++r) {
        double abs_sum;
        const double want = exact_dot(type, w.data() + r * dtype_row_bytes(type, cols), x.data(), cols, &abs_sum);
        // float accumulation: error below n * 2^-24 * sum|w x|
        CHECK_NEAR(y[r], want, cols * 6e-8 * abs_sum + 1e-30);
      }
    }
  }
}

TEST_CASE("SIMD float gemv equals scalar within 1e-5 relative, odd shapes") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(2);
  const KernelTable& scalar = *kernel_table_for(Isa::Scalar);
  for (Isa isa : isas) {
    const KernelTable& simd = *kernel_table_for(isa);
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
            // Relative to the magnitude of the terms: a sum with cancellation has no meaningful
            // relative error of its own.
            CHECK_NEAR(yv[r], ys[r], 1e-5 * abs_sum);
          }
        }
      }
    }
  }
}

TEST_CASE("SIMD gemv result for a row does not depend on how many rows run together") {
  // Threads split matrices by rows; a row must give the same bits alone or in a group of four.
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("no SIMD kernels on this CPU");
  std::mt19937 rng(3);
  for (Isa isa : isas) {
    const KernelTable& simd = *kernel_table_for(isa);
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
      const int64_t rows = 7, cols = 77;
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

TEST_CASE("SIMD dot_f32 and axpy_f32 equal scalar") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("no SIMD kernels on this CPU");
  std::mt19937 rng(4);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const KernelTable& scalar = *kernel_table_for(Isa::Scalar);
  for (Isa isa : isas) {
    const KernelTable& simd = *kernel_table_for(isa);
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
}

TEST_CASE("fp16 and bf16 conversions on hand-picked values") {
  CHECK_EQ(fp16_to_fp32(0x3c00), 1.0f);
  CHECK_EQ(fp16_to_fp32(0xc000), -2.0f);
  CHECK_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  CHECK_EQ(fp16_to_fp32(0x0001), 5.960464477539063e-08f);  // smallest subnormal, 2^-24
  CHECK_EQ(fp32_to_fp16(1.0f), 0x3c00);
  CHECK_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  CHECK_EQ(fp32_to_fp16(70000.0f), 0x7c00);             // overflow -> inf
  CHECK_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);   // halfway: round to even (down)
  CHECK_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);   // halfway: round to even (up)
  CHECK_EQ(fp32_to_fp16(5.960464477539063e-08f), 0x0001);
  CHECK_EQ(bf16_to_fp32(0x3f80), 1.0f);
  CHECK_EQ(fp32_to_bf16(1.0f), 0x3f80);
  CHECK_EQ(fp32_to_bf16(1.00390625f), 0x3f80);  // 1 + 2^-8 is halfway: to even
  CHECK_EQ(fp32_to_bf16(1.01171875f), 0x3f82);  // 1 + 3*2^-8 halfway: to even (up)
}

TEST_CASE("LOAM_ISA names are checked") {
  CHECK(!select_kernels("avx9000"));
  CHECK(select_kernels("scalar"));
  CHECK_EQ(std::string(kernels().isa), std::string("scalar"));
  CHECK(select_kernels("auto"));
  CHECK_EQ(std::string(kernels().isa), std::string(isa_name(best_isa())));
}
