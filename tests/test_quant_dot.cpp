// Scalar integer dot kernels of the quantized types against the dot product, in double, of the
// dequantized weights and the dequantized activations.
#include <cmath>
#include <cstring>
#include <vector>

#include "harness/test.h"
#include "kernels/kernels.h"
#include "kernels/scalar/quant_kernels.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "test_quant_util.h"

using namespace loam;
using quant_test::Dist;

namespace {

DType expected_act(DType weight) {
  return dtype_info(weight).block_size == 256 ? DType::Q8_K : DType::Q8_0;
}

KernelTable quant_table() {
  KernelTable t;
  register_scalar_quant_kernels(t);
  return t;
}

struct Case {
  std::vector<uint8_t> w;    // [rows] rows of row_stride bytes (row_bytes used, rest padding)
  std::vector<uint8_t> act;  // activations in the kernel's format
  size_t row_bytes = 0, row_stride = 0;
  int64_t rows = 0, cols = 0;
};

// Random weights quantized to `type`, random activations quantized by the table's quantizer.
// Rows are `pad` bytes further apart than one row needs, to check the stride is honoured.
Case make_case(const KernelTable& table, DType type, int64_t rows, int64_t cols, size_t pad,
               Dist dist, uint32_t seed) {
  Case c;
  c.rows = rows;
  c.cols = cols;
  c.row_bytes = dtype_row_bytes(type, cols);
  c.row_stride = c.row_bytes + pad;
  c.w.assign(c.row_stride * rows, 0xAB);
  const std::vector<float> wf = quant_test::random_values(rows * cols, dist, seed);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, &wf[r * cols], &c.w[r * c.row_stride], cols);
  const DType act = table.weights[static_cast<uint32_t>(type)].act_type;
  const std::vector<float> x = quant_test::random_values(cols, Dist::Normal, seed + 1);
  c.act.resize(act_row_bytes(act, cols) + 64);
  table.quantize_act[static_cast<uint32_t>(act)](x.data(), c.act.data(), cols);
  return c;
}

// Exact dot of the dequantized row and activations; abs_sum = sum |w_i a_i| scales the tolerance.
double reference_dot(DType type, DType act, const uint8_t* row, const uint8_t* a, int64_t n,
                     double* abs_sum) {
  std::vector<float> wf(n), af(n);
  dequantize_row(type, row, wf.data(), n);
  dequantize_row(act, a, af.data(), n);
  double s = 0.0, m = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    s += static_cast<double>(wf[i]) * af[i];
    m += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
  *abs_sum = m;
  return s;
}

// The kernels sum exact integer block sums scaled in float: each block term carries a few float
// roundings and the running sum adds one per block, so the error stays below
// (blocks + 4) * 2^-24 * sum |w_i a_i|. 1e-5 of it is ample for up to ~100 blocks; a wrong code,
// scale or min anywhere gives errors of order 1e-2 or more.
constexpr double kRelTol = 1e-5;

}  // namespace

TEST_CASE("registration covers exactly the implemented types with their activation formats") {
  const KernelTable t = quant_table();
  for (DType w : quant_test::kWeightTypes) {
    const TypeKernels& k = t.weights[static_cast<uint32_t>(w)];
    CHECK(k.gemv != nullptr);
    CHECK(k.act_type == expected_act(w));
  }
  CHECK(t.quantize_act[static_cast<uint32_t>(DType::Q8_0)] != nullptr);
  CHECK(t.quantize_act[static_cast<uint32_t>(DType::Q8_K)] != nullptr);
  for (DType other : {DType::F32, DType::F16, DType::Q2_K, DType::Q3_K, DType::Q8_K, DType::IQ4_XS}) {
    CHECK(t.weights[static_cast<uint32_t>(other)].gemv == nullptr);
  }
  // The dispatcher's scalar table includes them too.
  const KernelTable* scalar = kernel_table_for(Isa::Scalar);
  REQUIRE(scalar != nullptr);
  for (DType w : quant_test::kWeightTypes) CHECK(scalar->weights[static_cast<uint32_t>(w)].gemv != nullptr);
}

TEST_CASE("scalar quantized gemv equals the double dot of dequantized operands") {
  const KernelTable t = quant_table();
  for (DType type : quant_test::kWeightTypes) {
    const DType act = t.weights[static_cast<uint32_t>(type)].act_type;
    const int block = dtype_info(type).block_size;
    // One block, an odd number of blocks, and a longer row.
    for (int64_t blocks : {int64_t{1}, int64_t{3}, int64_t{11}}) {
      for (Dist dist : {Dist::Normal, Dist::HeavyTail}) {
        const int64_t cols = blocks * block;
        const Case c = make_case(t, type, 7, cols, 6, dist, static_cast<uint32_t>(100 + blocks));
        std::vector<float> y(c.rows + 1, -999.0f);
        t.weights[static_cast<uint32_t>(type)].gemv(c.w.data(), c.row_stride, c.rows, c.act.data(),
                                                    cols, y.data());
        for (int64_t r = 0; r < c.rows; ++r) {
          double abs_sum = 0.0;
          const double want = reference_dot(type, act, &c.w[r * c.row_stride], c.act.data(), cols, &abs_sum);
          if (!(std::fabs(y[r] - want) <= kRelTol * abs_sum + 1e-30)) {
            std::fprintf(stderr, "  %s blocks=%lld row %lld: %.9g vs %.9g\n", dtype_name(type),
                         static_cast<long long>(blocks), static_cast<long long>(r), y[r], want);
          }
          CHECK(std::fabs(y[r] - want) <= kRelTol * abs_sum + 1e-30);
        }
        CHECK_EQ(y[c.rows], -999.0f);  // nothing written past n_rows
      }
    }
  }
}

TEST_CASE("quantized gemv approximates the f32 matmul within the formats' error") {
  // End to end: y = W x with W and x quantized. The relative error of each dot is about the
  // weight format's relative RMS error (the 8-bit activations add ~0.5%), so for dots of 1024
  // random terms we allow 4x the per-type relative error measured on the synth files: Q8_0 0.5%,
  // Q6_K 1.8%, Q5_K 3.6%, Q4_K 7.1%, Q4_0 8.6% (Q5_0 / Q5_1 / Q4_1 between those).
  const KernelTable t = quant_table();
  const int64_t rows = 16, cols = 1024;
  const std::vector<float> wf = quant_test::random_values(rows * cols, Dist::Normal, 7);
  const std::vector<float> x = quant_test::random_values(cols, Dist::Normal, 8);
  for (DType type : quant_test::kWeightTypes) {
    const DType act = t.weights[static_cast<uint32_t>(type)].act_type;
    const size_t rb = dtype_row_bytes(type, cols);
    std::vector<uint8_t> w(rb * rows), a(act_row_bytes(act, cols));
    for (int64_t r = 0; r < rows; ++r) quantize_row(type, &wf[r * cols], &w[r * rb], cols);
    t.quantize_act[static_cast<uint32_t>(act)](x.data(), a.data(), cols);
    std::vector<float> y(rows);
    t.weights[static_cast<uint32_t>(type)].gemv(w.data(), rb, rows, a.data(), cols, y.data());
    double err = 0.0, norm = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0.0;
      for (int64_t i = 0; i < cols; ++i) exact += static_cast<double>(wf[r * cols + i]) * x[i];
      err += (y[r] - exact) * (y[r] - exact);
      norm += exact * exact;
    }
    const double rel = std::sqrt(err / norm);
    const double allowed = type == DType::Q8_0 ? 0.02 : type == DType::Q6_K ? 0.07
                         : type == DType::Q5_K || type == DType::Q5_0 || type == DType::Q5_1 ? 0.15
                         : 0.35;
    CHECK(rel <= allowed);
    CHECK(rel > 0.0);
  }
}

TEST_CASE("dot kernels at the integer extremes do not overflow") {
  // Largest magnitudes every format allows: Q6_K codes 0 (q - 32 = -32) with scales -128 against
  // activations -127; Q5_K / Q4_K top codes with scale and min codes 63; Q8_0 -128 * -128.
  const KernelTable t = quant_table();
  std::vector<uint8_t> a(sizeof(BlockQ8_K) * 2);
  for (int b = 0; b < 2; ++b) {
    BlockQ8_K blk;
    blk.d = 1.0f;
    for (int i = 0; i < 256; ++i) blk.qs[i] = -127;
    for (int g = 0; g < 16; ++g) blk.bsums[g] = -127 * 16;
    std::memcpy(&a[b * sizeof blk], &blk, sizeof blk);
  }
  {
    std::vector<BlockQ6_K> w(2);
    for (BlockQ6_K& b : w) {
      std::memset(&b, 0, sizeof b);
      for (int g = 0; g < 16; ++g) b.scales[g] = -128;
      b.d = 0x3C00;  // 1.0
    }
    float y = 0;
    t.weights[static_cast<uint32_t>(DType::Q6_K)].gemv(reinterpret_cast<const uint8_t*>(w.data()),
                                                       sizeof(BlockQ6_K) * 2, 1, a.data(), 512, &y);
    CHECK_EQ(static_cast<double>(y), 512.0 * (-128.0) * (-32.0) * (-127.0));
  }
  {
    std::vector<BlockQ5_K> w(2);
    for (BlockQ5_K& b : w) {
      std::memset(&b, 0xFF, sizeof b);  // codes 31, sc = m = 63
      b.d = 0x3C00;
      b.dmin = 0x3C00;
    }
    float y = 0;
    t.weights[static_cast<uint32_t>(DType::Q5_K)].gemv(reinterpret_cast<const uint8_t*>(w.data()),
                                                       sizeof(BlockQ5_K) * 2, 1, a.data(), 512, &y);
    // Each element is 63*31 - 63 = 1890, times -127.
    CHECK_EQ(static_cast<double>(y), 512.0 * 1890.0 * -127.0);
  }
  {
    BlockQ8_0 w, x;
    w.d = 0x3C00;
    x.d = 0x3C00;
    for (int i = 0; i < 32; ++i) w.qs[i] = x.qs[i] = -128;
    float y = 0;
    t.weights[static_cast<uint32_t>(DType::Q8_0)].gemv(reinterpret_cast<const uint8_t*>(&w),
                                                       sizeof w, 1, &x, 32, &y);
    CHECK_EQ(y, 32.0f * 128.0f * 128.0f);
  }
}

TEST_CASE("activation quantizers are the reference Q8_0 / Q8_K quantizers") {
  const KernelTable t = quant_table();
  const std::vector<float> x = quant_test::random_values(512, Dist::HeavyTail, 21);
  std::vector<uint8_t> a(act_row_bytes(DType::Q8_0, 512)), b(a.size());
  t.quantize_act[static_cast<uint32_t>(DType::Q8_0)](x.data(), a.data(), 512);
  quantize_row_q8_0(x.data(), reinterpret_cast<BlockQ8_0*>(b.data()), 512);
  CHECK(a == b);
  std::vector<uint8_t> k(act_row_bytes(DType::Q8_K, 512)), l(k.size());
  t.quantize_act[static_cast<uint32_t>(DType::Q8_K)](x.data(), k.data(), 512);
  quantize_row_q8_K(x.data(), reinterpret_cast<BlockQ8_K*>(l.data()), 512);
  CHECK(k == l);
  CHECK_EQ(act_row_bytes(DType::Q8_K, 512), size_t{2 * 292});
  CHECK_EQ(act_row_bytes(DType::Q8_0, 512), size_t{16 * 34});
}
