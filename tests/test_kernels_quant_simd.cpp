// Every SIMD quantized gemv kernel and activation quantizer against the scalar kernels (the
// specification), for each ISA this machine runs. The checks themselves (data, bounds, which types
// must be bit-identical) are in kernel_checks_quant.h, shared with test_kernels_avx512_emulated.
#include <random>

#include "harness/test.h"
#include "kernel_checks.h"
#include "kernels/kernels.h"

using namespace loam;
using namespace kernel_checks;

TEST_CASE("SIMD quant kernels use the scalar table's activation formats") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  for (Isa isa : isas) check_quant_formats(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa));
}

TEST_CASE("SIMD quant gemv integer parts are exact (power-of-two scales)") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(11);
  for (Isa isa : isas) check_quant_exact(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}

TEST_CASE("SIMD quant gemv equals scalar within 1e-5 relative, odd shapes") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(12);
  for (Isa isa : isas) check_quant_close(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}

TEST_CASE("SIMD quant gemv on a longer row (many blocks) equals scalar within 1e-5") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(13);
  for (Isa isa : isas) check_quant_long_rows(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}

TEST_CASE("SIMD quant gemv on rows longer than a kernel's activation chunk equals scalar") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(15);
  for (Isa isa : isas) check_quant_chunked_rows(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}

TEST_CASE("SIMD quant gemv gives the same bits for a row alone or in a group") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(14);
  for (Isa isa : isas) check_quant_row_independence(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}

TEST_CASE("SIMD quant gemm gives each token its gemv result bit for bit") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(17);
  for (Isa isa : isas) {
    const int with_gemm = check_quant_gemm(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
    // AVX2 has a file-layout gemm for Q6_K (the types with interleaved layouts use gemm_interleaved,
    // tested in test_interleaved_weights); a lost registration must not pass as "nothing to test".
    if (isa == Isa::Avx2) CHECK(with_gemm >= 1);
  }
}

TEST_CASE("SIMD activation quantizers write the scalar quantizers' blocks byte for byte") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(16);
  for (Isa isa : isas) check_act_quantizers(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}
