// Every SIMD float kernel against the scalar kernel, for each ISA this machine can run (the checks
// are in kernel_checks_float.h, shared with test_kernels_avx512_emulated), the scalar kernels
// against the exact dot product, the f16 / bf16 conversions and the LOAM_ISA names.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "harness/test.h"
#include "kernel_checks.h"
#include "kernels/kernels.h"

using namespace loam;
using namespace kernel_checks;

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
  for (Isa isa : isas) check_float_gemv(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}

TEST_CASE("SIMD gemv result for a row does not depend on how many rows run together") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("no SIMD kernels on this CPU");
  std::mt19937 rng(3);
  for (Isa isa : isas) check_float_row_independence(*kernel_table_for(isa), rng);
}

TEST_CASE("SIMD float gemm gives the table's gemv bits for every activation row") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("no SIMD kernels on this CPU");
  std::mt19937 rng(5);
  for (Isa isa : isas) {
    const int with_gemm = check_float_gemm(*kernel_table_for(isa), rng);
    // AVX2 has one for each float type; the AVX-512 set runs the AVX2 float kernels.
    if (isa == Isa::Avx2 || isa == Isa::Avx512) CHECK_EQ(with_gemm, 3);
  }
}

TEST_CASE("AVX2 float gemv and gemm: one 8-lane accumulator per row, lanes summed in a fixed tree, bit for bit") {
  if (!isa_supported(Isa::Avx2)) SKIP("this CPU does not run the AVX2 kernels");
  std::mt19937 rng(6);
  check_avx2_float_order(*kernel_table_for(Isa::Avx2), rng);
}

TEST_CASE("SIMD dot_f32 and axpy_f32 equal scalar") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("no SIMD kernels on this CPU");
  std::mt19937 rng(4);
  for (Isa isa : isas) check_dot_axpy(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
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

TEST_CASE("SIMD F16 -> F32 row conversion equals core/fp16.h for all 65536 patterns, NaNs included") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::vector<uint16_t> h(65536);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i);
  int checked = 0;
  for (Isa isa : isas) {
    const auto simd = kernel_table_for(isa)->f16_to_f32;
    if (isa == Isa::Avx2 || isa == Isa::Avx512) REQUIRE(simd != nullptr);
    if (simd == nullptr) continue;
    // The whole range in one row, then short rows at odd starts (tails, partly special vectors).
    for (int64_t start : {0, 3, 31741, 64510}) {
      for (int64_t n : {int64_t{65536} - start, int64_t{1}, int64_t{7}, int64_t{9}, int64_t{17}}) {
        if (start + n > 65536) continue;
        std::vector<float> got(static_cast<size_t>(n), -1.0f);
        simd(h.data() + start, got.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          const float want = fp16_to_fp32(h[static_cast<size_t>(start + i)]);
          REQUIRE(std::memcmp(&want, &got[static_cast<size_t>(i)], sizeof want) == 0);
        }
        ++checked;
      }
    }
  }
  CHECK(checked > 0 || isas == std::vector<Isa>{Isa::Neon});
}
