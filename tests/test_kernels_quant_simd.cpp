// Every SIMD quantized gemv kernel and activation quantizer against the scalar kernels (the
// specification), for each ISA this machine runs. The checks themselves (data, bounds, which types
// must be bit-identical) are in kernel_checks_quant.h, shared with test_kernels_avx512_emulated.
// AVX2's Q8_0 and Q5_K kernels have their own float order; references for it are written below.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "harness/test.h"
#include "kernel_checks.h"
#include "core/fp16.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quantize.h"

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
    if (isa == Isa::Avx2) CHECK(with_gemm >= 4);
  }
}

namespace {

// The AVX2 Q8_0 order, written out here: per row, blocks in order, acc = fma(exact integer dot,
// d_w * d_x rounded to float, acc), starting from 0.
float q8_0_block_order(const uint8_t* row, const uint8_t* act, int64_t blocks) {
  float acc = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    BlockQ8_0 w, a;
    std::memcpy(&w, row + b * sizeof w, sizeof w);
    std::memcpy(&a, act + b * sizeof a, sizeof a);
    int32_t dot = 0;
    for (int i = 0; i < kQK; ++i) dot += static_cast<int32_t>(w.qs[i]) * a.qs[i];
    const float scale = fp16_to_fp32(w.d) * fp16_to_fp32(a.d);
    acc = std::fma(static_cast<float>(dot), scale, acc);
  }
  return acc;
}

// The AVX2 Q5_K order: per super-block, the exact integer totals sum(sc_j * code * a) and
// sum(m_j * a); acc = fma(dx * d, total, acc) and acc_min = fma(-(dx * dmin), mins, acc_min);
// the result acc + acc_min. The integer weights sc_j * code and m_j come from the library's
// dequantizer with d = 1, dmin = 0 (then d = 0, dmin = 1): exact small integers.
float q5_K_block_order(const uint8_t* row, const uint8_t* act, int64_t blocks) {
  float acc = 0.0f, acc_min = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    BlockQ5_K w, codes, mins;
    BlockQ8_K a;
    std::memcpy(&w, row + b * sizeof w, sizeof w);
    std::memcpy(&a, act + b * sizeof a, sizeof a);
    codes = mins = w;
    codes.d = fp32_to_fp16(1.0f);
    codes.dmin = 0;
    mins.d = 0;
    mins.dmin = fp32_to_fp16(1.0f);
    float wc[kQKK], wm[kQKK];
    REQUIRE(dequantize_quant_row(DType::Q5_K, &codes, wc, kQKK));
    REQUIRE(dequantize_quant_row(DType::Q5_K, &mins, wm, kQKK));
    int64_t total = 0, min_total = 0;
    for (int i = 0; i < kQKK; ++i) {
      total += static_cast<int64_t>(wc[i]) * a.qs[i];
      min_total -= static_cast<int64_t>(wm[i]) * a.qs[i];  // wm = -m_j
    }
    REQUIRE(total == static_cast<int32_t>(total));
    acc = std::fma(a.d * fp16_to_fp32(w.d), static_cast<float>(total), acc);
    acc_min = std::fma(-(a.d * fp16_to_fp32(w.dmin)), static_cast<float>(min_total), acc_min);
  }
  return acc + acc_min;
}

}  // namespace

TEST_CASE("AVX2 Q8_0 and Q5_K gemv: one fused multiply-add per block of the exact integer total, bit for bit") {
  const auto isas = simd_isas();
  int checked = 0;
  std::mt19937 rng(18);
  const KernelTable& scalar = *kernel_table_for(Isa::Scalar);
  for (Isa isa : isas) {
    const KernelTable& simd = *kernel_table_for(isa);
    for (DType t : {DType::Q8_0, DType::Q5_K}) {
      if (!runs_avx2_gemv(simd, t)) continue;
      ++checked;
      // Odd shapes, a long row, and (Q8_0) one past the file-layout kernel's 1024-block chunk.
      for (const auto& shape : {std::pair<int64_t, int64_t>{1, 1}, {3, 2}, {8, 5}, {9, 3}, {17, 64}, {9, 1031}}) {
        const int64_t rows = shape.first;
        const int64_t blocks = t == DType::Q8_0 ? shape.second : std::min<int64_t>(shape.second, 40);
        const int64_t cols = blocks * dtype_info(t).block_size;
        for (Fill fill : {Fill::Quantized, Fill::RandomBits, Fill::Extreme}) {
          const size_t rb = dtype_row_bytes(t, cols);
          std::vector<uint8_t> w(rows * rb);
          for (int64_t r = 0; r < rows; ++r) fill_row(t, blocks, fill, rng, w.data() + r * rb);
          const std::vector<uint8_t> act = make_act(scalar, t, cols, fill, 127, rng);
          std::vector<float> y(rows);
          simd.weights[static_cast<uint32_t>(t)].gemv(w.data(), rb, rows, act.data(), cols, y.data());
          int mismatches = 0;
          for (int64_t r = 0; r < rows; ++r) {
            const float want = t == DType::Q8_0 ? q8_0_block_order(w.data() + r * rb, act.data(), blocks)
                                                : q5_K_block_order(w.data() + r * rb, act.data(), blocks);
            if (std::memcmp(&want, &y[r], sizeof want) != 0 && ++mismatches == 1)
              std::fprintf(stderr, "  %s %s rows=%lld blocks=%lld %s row %lld: %.9g, reference %.9g\n", simd.isa,
                           dtype_name(t), static_cast<long long>(rows), static_cast<long long>(blocks),
                           fill_name(fill), static_cast<long long>(r), y[r], want);
          }
          CHECK_EQ(mismatches, 0);
        }
      }
    }
  }
  if (checked == 0) SKIP("this CPU runs no kernel set with the AVX2 Q8_0 and Q5_K kernels");
}

TEST_CASE("SIMD activation quantizers write the scalar quantizers' blocks byte for byte") {
  const auto isas = simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(16);
  for (Isa isa : isas) check_act_quantizers(*kernel_table_for(Isa::Scalar), *kernel_table_for(isa), rng);
}
