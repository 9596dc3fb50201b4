// NEON quantized kernels, both paths (SMULL+SADALP for every AArch64 CPU, SDOT where the CPU has
// dotprod), against the scalar kernels and the exact dot product of the dequantized blocks, plus
// the run-time choice between them. The generic SIMD tests (test_kernels_float.cpp, ...) cover the
// table dispatch picks; this file reaches the path the CPU did not pick. Elsewhere it skips.
// Under qemu: QEMU_CPU=max has dotprod, QEMU_CPU=cortex-a53 does not (.ci/neon.sh runs both).
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/fp16.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quantize.h"

#if defined(LOAM_HAVE_NEON_KERNELS)
#include "kernels/arm_neon/register.h"
#endif

using namespace loam;

#if defined(LOAM_HAVE_NEON_KERNELS)

namespace {

constexpr DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                            DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

bool is_k_type(DType t) { return dtype_info(t).block_size == kQKK; }
DType act_of(DType t) { return is_k_type(t) ? DType::Q8_K : DType::Q8_0; }

struct Path {
  std::string name;
  KernelTable table;
};

// The quantized kernels this CPU can run: always the ARMv8.0 ones, SDOT ones when it has dotprod.
std::vector<Path> runnable_paths() {
  std::vector<Path> out;
  Path widen{"neon-smull", KernelTable()};
  neon::register_quant_kernels_widen(widen.table);
  out.push_back(widen);
  if (cpu_features().neon_dotprod) {
    Path sdot{"neon-sdot", KernelTable()};
    neon::register_quant_kernels_dotprod(sdot.table);
    out.push_back(sdot);
  }
  return out;
}

void put_half(uint8_t* at, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(at, &h, 2);
}

// Offsets of a block's f16 scale fields (random bytes there could be inf or nan).
std::vector<size_t> half_fields(DType t) {
  switch (t) {
    case DType::Q8_0: return {offsetof(BlockQ8_0, d)};
    case DType::Q4_0: return {offsetof(BlockQ4_0, d)};
    case DType::Q4_1: return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case DType::Q5_0: return {offsetof(BlockQ5_0, d)};
    case DType::Q5_1: return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case DType::Q4_K: return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case DType::Q5_K: return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case DType::Q6_K: return {offsetof(BlockQ6_K, d)};
    default: return {};
  }
}

// Weight rows of `t`: either quantized from normal floats (real-looking blocks) or random bytes
// with finite random scales, which reach every code, including int8 -128 and 6-bit scale 63.
struct Weights {
  std::vector<uint8_t> bytes;  // [rows][stride]; the last `stride - row_bytes` of each row unused
  size_t row_bytes = 0, stride = 0;
};

Weights make_weights(DType t, int64_t rows, int64_t cols, bool raw, std::mt19937& rng) {
  Weights w;
  w.row_bytes = dtype_row_bytes(t, cols);
  w.stride = w.row_bytes + 6;  // rows not back to back; keeps the blocks' 2-byte alignment
  w.bytes.assign(w.stride * rows, 0xEE);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const int type_size = dtype_info(t).type_size;
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = &w.bytes[r * w.stride];
    if (!raw) {
      std::vector<float> v(cols);
      for (float& f : v) f = normal(rng);
      quantize_row(t, v.data(), row, cols);
      continue;
    }
    for (size_t i = 0; i < w.row_bytes; ++i) row[i] = static_cast<uint8_t>(byte(rng));
    for (int64_t b = 0; b < static_cast<int64_t>(w.row_bytes) / type_size; ++b)
      for (size_t off : half_fields(t)) put_half(row + b * type_size + off, scale(rng));
  }
  return w;
}

// Activations in the format the kernels take, quantized from normal floats or raw random codes.
std::vector<uint8_t> make_act(DType act, int64_t cols, bool raw, std::mt19937& rng) {
  std::vector<uint8_t> out(dtype_row_bytes(act, cols) + 16);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (!raw) {
    std::vector<float> v(cols);
    for (float& f : v) f = normal(rng);
    quantize_row(act, v.data(), out.data(), cols);
    return out;
  }
  std::uniform_int_distribution<int> code(-128, 127);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  if (act == DType::Q8_0) {
    for (int64_t b = 0; b < cols / kQK; ++b) {
      BlockQ8_0 blk;
      blk.d = fp32_to_fp16(scale(rng));
      for (int8_t& q : blk.qs) q = static_cast<int8_t>(code(rng));
      std::memcpy(&out[b * sizeof blk], &blk, sizeof blk);
    }
  } else {
    for (int64_t b = 0; b < cols / kQKK; ++b) {
      BlockQ8_K blk;
      blk.d = scale(rng);
      for (int g = 0; g < kQKK / 16; ++g) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) {
          blk.qs[16 * g + i] = static_cast<int8_t>(code(rng));
          sum += blk.qs[16 * g + i];
        }
        blk.bsums[g] = static_cast<int16_t>(sum);
      }
      std::memcpy(&out[b * sizeof blk], &blk, sizeof blk);
    }
  }
  return out;
}

// Exact dot of the dequantized row and activations, and sum |w_i a_i| to scale tolerances.
double exact_dot(DType t, const uint8_t* row, const uint8_t* act, int64_t n, double* abs_sum) {
  std::vector<float> wf(n), af(n);
  dequantize_quant_row(t, row, wf.data(), n);
  dequantize_quant_row(act_of(t), act, af.data(), n);
  double s = 0, a = 0;
  for (int64_t i = 0; i < n; ++i) {
    s += static_cast<double>(wf[i]) * af[i];
    a += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
  *abs_sum = a;
  return s;
}

// Offset types (Q4_1, Q5_1, and the K mins) split each term in two parts that can each be larger
// than |w_i a_i|; the sums of those parts bound the rounding error honestly.
double term_magnitude(DType t, const uint8_t* row, const uint8_t* act, int64_t n) {
  std::vector<float> wf(n), af(n);
  dequantize_quant_row(t, row, wf.data(), n);
  dequantize_quant_row(act_of(t), act, af.data(), n);
  double wmax = 0, asum = 0, s = 0;
  for (int64_t i = 0; i < n; ++i) {
    wmax = std::fmax(wmax, std::fabs(wf[i]));
    asum += std::fabs(af[i]);
    s += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
  return s + 2 * wmax * asum;
}

// Blocks per row: not multiples of the two-block unroll, and one long row.
std::vector<int64_t> block_counts(DType t) {
  if (is_k_type(t)) return {1, 2, 3, 8};
  return {1, 2, 3, 5, 8, 64};
}
const int64_t kRowCounts[] = {1, 2, 3, 5, 9};

}  // namespace

TEST_CASE("NEON quantized gemv equals scalar and the exact dot, both paths, odd shapes") {
  std::printf("cpu features: %s\n", cpu_features().describe().c_str());
  const KernelTable& scalar = *kernel_table_for(Isa::Scalar);
  std::mt19937 rng(11);
  for (const Path& path : runnable_paths()) {
    int checked = 0;
    for (DType t : kTypes) {
      const uint32_t ti = static_cast<uint32_t>(t);
      REQUIRE(path.table.weights[ti].gemv != nullptr);
      CHECK(path.table.weights[ti].act_type == act_of(t));
      REQUIRE(scalar.weights[ti].act_type == act_of(t));
      for (bool raw : {false, true}) {
        for (int64_t blocks : block_counts(t)) {
          const int64_t cols = blocks * dtype_info(t).block_size;
          for (int64_t rows : kRowCounts) {
            const Weights w = make_weights(t, rows, cols, raw, rng);
            const std::vector<uint8_t> act = make_act(act_of(t), cols, raw, rng);
            std::vector<float> ys(rows), yn(rows, -12345.0f);
            scalar.weights[ti].gemv(w.bytes.data(), w.stride, rows, act.data(), cols, ys.data());
            path.table.weights[ti].gemv(w.bytes.data(), w.stride, rows, act.data(), cols, yn.data());
            for (int64_t r = 0; r < rows; ++r) {
              const uint8_t* row = &w.bytes[r * w.stride];
              double abs_sum;
              const double want = exact_dot(t, row, act.data(), cols, &abs_sum);
              const double tol = 1e-5 * term_magnitude(t, row, act.data(), cols) + 1e-30;
              if (std::fabs(yn[r] - ys[r]) > tol || std::fabs(yn[r] - want) > tol)
                std::printf("  %s %s raw=%d cols=%lld rows=%lld row %lld: neon %.9g scalar %.9g exact %.9g\n",
                            path.name.c_str(), dtype_name(t), raw ? 1 : 0, static_cast<long long>(cols),
                            static_cast<long long>(rows), static_cast<long long>(r), yn[r], ys[r], want);
              CHECK_NEAR(yn[r], ys[r], tol);
              CHECK_NEAR(yn[r], want, tol);
              ++checked;
            }
          }
        }
      }
    }
    std::printf("%s: %d rows checked against scalar and exact\n", path.name.c_str(), checked);
  }
}

TEST_CASE("NEON SDOT and SMULL paths give bit-identical quantized gemv results") {
  // Both compute the same exact integer block sums and then the same float operations.
  if (!cpu_features().neon_dotprod) SKIP("this CPU has no dotprod: only the SMULL path runs");
  const auto paths = runnable_paths();
  REQUIRE(paths.size() == 2);
  std::mt19937 rng(12);
  for (DType t : kTypes) {
    const uint32_t ti = static_cast<uint32_t>(t);
    const int64_t rows = 7, cols = 4 * kQKK;  // 4 super-blocks, 32 blocks of 32
    for (bool raw : {false, true}) {
      const Weights w = make_weights(t, rows, cols, raw, rng);
      const std::vector<uint8_t> act = make_act(act_of(t), cols, raw, rng);
      std::vector<float> y0(rows), y1(rows);
      paths[0].table.weights[ti].gemv(w.bytes.data(), w.stride, rows, act.data(), cols, y0.data());
      paths[1].table.weights[ti].gemv(w.bytes.data(), w.stride, rows, act.data(), cols, y1.data());
      CHECK(std::memcmp(y0.data(), y1.data(), rows * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("NEON quantized gemv result for a row does not depend on how many rows run together") {
  std::mt19937 rng(13);
  for (const Path& path : runnable_paths()) {
    for (DType t : kTypes) {
      const uint32_t ti = static_cast<uint32_t>(t);
      const int64_t rows = 6, cols = 2 * kQKK;
      const Weights w = make_weights(t, rows, cols, false, rng);
      const std::vector<uint8_t> act = make_act(act_of(t), cols, false, rng);
      std::vector<float> all(rows), one(1);
      path.table.weights[ti].gemv(w.bytes.data(), w.stride, rows, act.data(), cols, all.data());
      for (int64_t r = 0; r < rows; ++r) {
        path.table.weights[ti].gemv(&w.bytes[r * w.stride], w.stride, 1, act.data(), cols, one.data());
        CHECK(std::memcmp(&one[0], &all[r], sizeof(float)) == 0);
      }
    }
  }
}

TEST_CASE("NEON table uses the SDOT kernels exactly when the CPU reports dotprod") {
  REQUIRE(isa_supported(Isa::Neon));  // Advanced SIMD is mandatory on AArch64
  CHECK(best_isa() == Isa::Neon);
  const KernelTable& neon_table = *kernel_table_for(Isa::Neon);
  KernelTable widen, sdot;
  neon::register_quant_kernels_widen(widen);
  neon::register_quant_kernels_dotprod(sdot);  // registering only takes addresses: safe anywhere
  const KernelTable& want = cpu_features().neon_dotprod ? sdot : widen;
  for (DType t : kTypes) {
    const uint32_t ti = static_cast<uint32_t>(t);
    CHECK(neon_table.weights[ti].gemv == want.weights[ti].gemv);
    CHECK(widen.weights[ti].gemv != sdot.weights[ti].gemv);
  }
  // F32 and friends come from float_kernels.cpp, not the scalar table.
  CHECK(neon_table.weights[static_cast<uint32_t>(DType::F16)].gemv !=
        kernel_table_for(Isa::Scalar)->weights[static_cast<uint32_t>(DType::F16)].gemv);
  std::printf("neon table: quantized kernels %s (cpu features: %s)\n",
              cpu_features().neon_dotprod ? "SDOT" : "SMULL", cpu_features().describe().c_str());
}

#else  // !LOAM_HAVE_NEON_KERNELS

TEST_CASE("NEON quantized kernels (aarch64 builds only)") {
  SKIP("this build has no NEON kernels (not an aarch64 target)");
}

#endif
