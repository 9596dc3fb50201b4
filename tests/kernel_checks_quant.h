// Checks of a SIMD kernel table's quantized kernels against the scalar table (the specification),
// shared by test_kernels_quant_simd (every ISA this CPU runs) and test_kernels_avx512_emulated
// (the AVX-512 kernels compiled against the intrinsics emulation). Each check_* function runs one
// family of checks on one table and records failures through the harness.
//
// Data: quantized random data, random block bits (every code, packed scale and sign), and extreme
// blocks; row counts 1..9 and 1..5 blocks per row, so neither is a multiple of any unroll.
// Two kinds of check:
//  - with power-of-two scales and activations small enough that every partial sum is an integer
//    below 2^24, both kernels must return the exact dot product: this pins the integer parts
//    exactly (an off-by-one code would change the result by at least one unit);
//  - with arbitrary scales, results agree within 1e-5 of the sum of the magnitudes of the terms the
//    kernels add (relative to the result itself would be meaningless under cancellation), and
//    bit for bit for the types whose kernels repeat the scalar kernel's float operations
//    (same_float_order: the goldens' reference order, where one ulp can flip an activation code).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/quantize.h"

namespace kernel_checks {

using namespace loam;

constexpr DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                            DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};

inline bool is_k(DType t) { return dtype_info(t).block_size == kQKK; }
inline DType act_of(DType t) { return is_k(t) ? DType::Q8_K : DType::Q8_0; }

// Byte offsets of a block's f16 fields: the scale d, and the offset m (Q4_1, Q5_1) or dmin (Q4_K,
// Q5_K) when the type has one (-1 otherwise).
inline int d_offset(DType t) { return t == DType::Q6_K ? static_cast<int>(offsetof(BlockQ6_K, d)) : 0; }
inline int m_offset(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return 2;
    default: return -1;
  }
}

// A finite f16 with random sign and magnitude in [0, 8), subnormals included.
inline uint16_t random_half(std::mt19937& rng) {
  for (;;) {
    const uint16_t h = static_cast<uint16_t>(rng());
    if (((h >> 10) & 0x1F) <= 17) return h;
  }
}

inline uint16_t pick_half(std::mt19937& rng, std::initializer_list<float> values) {
  const size_t i = rng() % values.size();
  return fp32_to_fp16(values.begin()[i]);
}

enum class Fill { Quantized, RandomBits, Extreme, Exact };

// One weight row of `blocks` blocks at `row`.
inline void fill_row(DType t, int64_t blocks, Fill fill, std::mt19937& rng, uint8_t* row) {
  const int bs = dtype_info(t).type_size, n = dtype_info(t).block_size;
  const int64_t cols = blocks * n;
  if (fill == Fill::Quantized) {
    std::student_t_distribution<float> heavy(3.0f);  // outliers, as in real weights
    std::vector<float> v(cols);
    const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 9) - 6);
    for (float& f : v) f = scale * heavy(rng);
    quantize_row(t, v.data(), row, cols);
    return;
  }
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = row + b * bs;
    if (fill == Fill::Extreme) {
      // Every code (and packed scale) at its largest or smallest value: 0xFF / 0x00 bytes give
      // nibbles 15 / 0, fifth and sixth bits set / clear, Q8_0 codes -1 / 0; Q8_0 also gets -128
      // and 127, Q6_K scales -128 or 127.
      const uint8_t byte = rng() % 2 ? 0xFF : 0x00;
      std::memset(blk, byte, bs);
      if (t == DType::Q8_0) {
        const int8_t q = rng() % 2 ? -128 : 127;
        std::memset(blk + offsetof(BlockQ8_0, qs), static_cast<uint8_t>(q), kQK);
      }
      if (t == DType::Q6_K) {
        std::memset(blk + offsetof(BlockQ6_K, scales), rng() % 2 ? 0x80 : 0x7F, kQKK / 16);
      }
    } else {
      for (int i = 0; i < bs; ++i) blk[i] = static_cast<uint8_t>(rng());
    }
    uint16_t d = random_half(rng), m = random_half(rng);
    if (fill == Fill::Exact) {
      d = is_k(t) ? pick_half(rng, {1.0f, -1.0f}) : pick_half(rng, {1.0f, -1.0f, 2.0f, -2.0f});
      m = is_k(t) ? pick_half(rng, {1.0f, -1.0f}) : pick_half(rng, {1.0f, -1.0f, 2.0f, -2.0f});
    }
    std::memcpy(blk + d_offset(t), &d, 2);
    if (m_offset(t) >= 0) std::memcpy(blk + m_offset(t), &m, 2);
  }
}

// Activations for weights of type t. Codes stay within [-127, 127], the activation quantizers'
// range (the kernels rely on it: -128 has no positive counterpart for the sign trick). In Exact
// mode |code| <= exact_max and scales are +-1 or +-2.
inline std::vector<uint8_t> make_act(const KernelTable& scalar, DType t, int64_t cols, Fill fill,
                              int exact_max, std::mt19937& rng) {
  const DType act = act_of(t);
  std::vector<uint8_t> out(act_row_bytes(act, cols) + 64, 0);
  if (fill == Fill::Quantized) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(cols);
    for (float& f : v) f = normal(rng);
    scalar.quantize_act[static_cast<uint32_t>(act)](v.data(), out.data(), cols);
    return out;
  }
  const int bn = dtype_info(act).block_size;
  for (int64_t b = 0; b < cols / bn; ++b) {
    int8_t qs[kQKK];
    const int lim = fill == Fill::Exact ? exact_max : 127;
    const int extreme = rng() % 2 ? 127 : -127;
    for (int i = 0; i < bn; ++i) {
      qs[i] = static_cast<int8_t>(fill == Fill::Extreme ? extreme
                                                         : static_cast<int>(rng() % (2 * lim + 1)) - lim);
    }
    if (act == DType::Q8_0) {
      BlockQ8_0 blk;
      blk.d = fill == Fill::Exact ? pick_half(rng, {1.0f, -1.0f, 2.0f, -2.0f}) : random_half(rng);
      std::memcpy(blk.qs, qs, kQK);
      std::memcpy(out.data() + b * sizeof blk, &blk, sizeof blk);
    } else {
      BlockQ8_K blk;
      blk.d = fill == Fill::Exact ? (rng() % 2 ? 1.0f : -1.0f)
                                  : (rng() % 2 ? 1.0f : -1.0f) * std::ldexp(1.0f + (rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 12));
      std::memcpy(blk.qs, qs, kQKK);
      for (int g = 0; g < kQKK / 16; ++g) {
        int s = 0;
        for (int i = 0; i < 16; ++i) s += qs[16 * g + i];
        blk.bsums[g] = static_cast<int16_t>(s);
      }
      std::memcpy(out.data() + b * sizeof blk, &blk, sizeof blk);
    }
  }
  return out;
}

// Exact dot of the dequantized row and activations (in double), and in *terms the sum of the
// magnitudes of the separately scaled parts the kernels add: for types with an offset m / dmin
// that part is dotted on its own (the row dequantized with d = 0), the rest with m = 0.
inline double reference_dot(DType t, const uint8_t* row, const uint8_t* act, int64_t cols, double* terms) {
  std::vector<float> w(cols), a(cols), w_codes(cols), w_mins(cols);
  dequantize_quant_row(t, row, w.data(), cols);
  dequantize_quant_row(act_of(t), act, a.data(), cols);
  const int bs = dtype_info(t).type_size;
  const int64_t blocks = cols / dtype_info(t).block_size;
  std::vector<uint8_t> copy(row, row + blocks * bs);
  if (m_offset(t) >= 0) {
    for (int64_t b = 0; b < blocks; ++b) std::memset(&copy[b * bs + m_offset(t)], 0, 2);
    dequantize_quant_row(t, copy.data(), w_codes.data(), cols);
    std::memcpy(copy.data(), row, copy.size());
    for (int64_t b = 0; b < blocks; ++b) std::memset(&copy[b * bs + d_offset(t)], 0, 2);
    dequantize_quant_row(t, copy.data(), w_mins.data(), cols);
  } else {
    w_codes = w;
  }
  double dot = 0, mag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    dot += static_cast<double>(w[i]) * a[i];
    mag += std::fabs(static_cast<double>(w_codes[i]) * a[i]) + std::fabs(static_cast<double>(w_mins[i]) * a[i]);
  }
  *terms = mag;
  return dot;
}

// Largest |dequantized weight| (in units of the exact-mode scales) times the largest |dx|.
inline double exact_weight_bound(DType t) {
  switch (t) {
    case DType::Q8_0: return 2.0 * 128 * 2;
    case DType::Q4_0: return 2.0 * 8 * 2;
    case DType::Q4_1: return (2.0 * 15 + 2) * 2;
    case DType::Q5_0: return 2.0 * 16 * 2;
    case DType::Q5_1: return (2.0 * 31 + 2) * 2;
    case DType::Q4_K: return 63.0 * 15 + 63;
    case DType::Q5_K: return 63.0 * 31 + 63;
    case DType::Q6_K: return 128.0 * 32;
    default: return 0;
  }
}

// Whether the table's gemv for t is the AVX2 set's (the avx2 table, and the avx512 table, which
// keeps AVX2's kernels for the types it interleaves: dispatch.cpp).
inline bool runs_avx2_gemv(const KernelTable& simd, DType t) {
  return isa_supported(Isa::Avx2) &&
         simd.weights[static_cast<uint32_t>(t)].gemv == kernel_table_for(Isa::Avx2)->weights[static_cast<uint32_t>(t)].gemv;
}

// Types whose x86 kernels (AVX2, AVX-512 and its emulation: isa names starting with "avx") follow
// the scalar kernel's float operations one for one (the order of the reference the quantized
// goldens come from): their results must be bit-identical. The NEON kernels keep their own order
// and are held to the 1e-5 bound, as are AVX2's Q8_0 and Q5_K kernels: their own order (one fused
// multiply-add per block of each row's exact integer total, where the scalar kernels keep 8 float
// lanes per row), which test_kernels_quant_simd checks bit for bit against references written for
// it. The AVX-512 gemv of those two types keeps the scalar order.
inline bool same_float_order(const KernelTable& simd, DType t) {
  if (std::strncmp(simd.isa, "avx", 3) != 0) return false;
  if (t == DType::Q8_0 || t == DType::Q5_K) return !runs_avx2_gemv(simd, t);
  return t == DType::Q4_K || t == DType::Q6_K;
}

inline const char* fill_name(Fill f) {
  switch (f) {
    case Fill::Quantized: return "quantized";
    case Fill::RandomBits: return "random-bits";
    case Fill::Extreme: return "extreme";
    case Fill::Exact: return "exact";
  }
  return "?";
}

// Runs both kernels on rows x blocks and checks the SIMD results. Rows are 6 bytes further apart
// than needed and the data starts 2 bytes past an aligned address: blocks in a mapped file are
// only 2-byte aligned (18-byte Q4_0 blocks, ...), which the SIMD loads must accept.
inline void compare(const KernelTable& scalar, const KernelTable& simd, DType t, int64_t rows,
             int64_t blocks, Fill fill, std::mt19937& rng) {
  const int64_t cols = blocks * dtype_info(t).block_size;
  const size_t rb = dtype_row_bytes(t, cols), stride = rb + 6;
  std::vector<uint8_t> storage(stride * rows + 2);
  uint8_t* w = storage.data() + 2;
  for (int64_t r = 0; r < rows; ++r) fill_row(t, blocks, fill, rng, w + r * stride);
  const int exact_max = static_cast<int>(std::fmin(127.0, std::floor(16777216.0 / (exact_weight_bound(t) * 5 * dtype_info(t).block_size))));
  REQUIRE(exact_max >= 1);
  const std::vector<uint8_t> act = make_act(scalar, t, cols, fill, exact_max, rng);
  std::vector<float> ys(rows + 1, -777.0f), yv(rows + 1, -777.0f);
  const uint32_t ti = static_cast<uint32_t>(t);
  scalar.weights[ti].gemv(w, stride, rows, act.data(), cols, ys.data());
  simd.weights[ti].gemv(w, stride, rows, act.data(), cols, yv.data());
  CHECK_EQ(yv[rows], -777.0f);  // nothing written past n_rows
  for (int64_t r = 0; r < rows; ++r) {
    double terms = 0;
    const double exact = reference_dot(t, w + r * stride, act.data(), cols, &terms);
    bool ok;
    if (fill == Fill::Exact) {
      REQUIRE(terms < 16777216.0);  // every partial sum is an exactly representable integer
      ok = ys[r] == exact && yv[r] == exact;
    } else if (same_float_order(simd, t)) {
      ok = std::memcmp(&yv[r], &ys[r], sizeof(float)) == 0;
    } else {
      ok = std::fabs(static_cast<double>(yv[r]) - ys[r]) <= 1e-5 * terms;
    }
    if (!ok) {
      std::fprintf(stderr, "  %s %s %s rows=%lld blocks=%lld row %lld: simd %.9g scalar %.9g exact %.9g (terms %.3g)\n",
                   simd.isa, dtype_name(t), fill_name(fill), static_cast<long long>(rows),
                   static_cast<long long>(blocks), static_cast<long long>(r), yv[r], ys[r], exact, terms);
    }
    CHECK(ok);
  }
}


// Every quantized type has a kernel reading the scalar table's activation format, and a quantizer
// for that format.
inline void check_quant_formats(const KernelTable& scalar, const KernelTable& simd) {
  for (DType t : kTypes) {
    const TypeKernels& k = simd.weights[static_cast<uint32_t>(t)];
    CHECK(k.gemv != nullptr);
    CHECK(k.act_type == scalar.weights[static_cast<uint32_t>(t)].act_type);
    CHECK(k.act_type == act_of(t));
    CHECK(simd.quantize_act[static_cast<uint32_t>(k.act_type)] != nullptr);
  }
}

// Integer parts exact (power-of-two scales), rows 1..9 x blocks 1..5.
inline void check_quant_exact(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType t : kTypes)
    for (int64_t rows = 1; rows <= 9; ++rows)
      for (int64_t blocks = 1; blocks <= 5; ++blocks) compare(scalar, simd, t, rows, blocks, Fill::Exact, rng);
}

// Within 1e-5 (bit-identical for same_float_order types), every fill, rows 1..9 x blocks 1..5.
inline void check_quant_close(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType t : kTypes)
    for (Fill fill : {Fill::Quantized, Fill::RandomBits, Fill::Extreme})
      for (int64_t rows = 1; rows <= 9; ++rows)
        for (int64_t blocks = 1; blocks <= 5; ++blocks) compare(scalar, simd, t, rows, blocks, fill, rng);
}

// A longer row (many blocks) and more rows than one group.
inline void check_quant_long_rows(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType t : kTypes) compare(scalar, simd, t, 17, is_k(t) ? 11 : 64, Fill::Quantized, rng);
}

// Rows longer than a kernel's activation chunk: the AVX2 kernels of the 32-element types prepare
// activation sums per 1024 blocks; a row of 1031 blocks crosses that boundary with an odd remainder.
inline void check_quant_chunked_rows(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1})
    compare(scalar, simd, t, 9, 1031, Fill::Quantized, rng);
}

// Threads split matrices by rows: a row's value must not depend on the split (same bits alone, in
// the whole matrix, or in a group of 3 starting at any row, a different position in the unroll).
inline void check_quant_row_independence(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType t : kTypes) {
    const int64_t rows = 19, blocks = 3;
    const int64_t cols = blocks * dtype_info(t).block_size;
    const size_t rb = dtype_row_bytes(t, cols);
    std::vector<uint8_t> w(rb * rows);
    for (int64_t r = 0; r < rows; ++r) fill_row(t, blocks, Fill::RandomBits, rng, &w[r * rb]);
    const std::vector<uint8_t> act = make_act(scalar, t, cols, Fill::Quantized, 0, rng);
    const GemvFn gemv = simd.weights[static_cast<uint32_t>(t)].gemv;
    std::vector<float> all(rows);
    gemv(w.data(), rb, rows, act.data(), cols, all.data());
    for (int64_t r = 0; r < rows; ++r) {
      float one;
      gemv(&w[r * rb], rb, 1, act.data(), cols, &one);
      CHECK(std::memcmp(&one, &all[r], sizeof one) == 0);
      if (r + 3 <= rows) {
        float three[3];
        gemv(&w[r * rb], rb, 3, act.data(), cols, three);
        CHECK(std::memcmp(&three[0], &all[r], sizeof one) == 0);
      }
    }
  }
}

// A table's gemm over the file layout gives each activation row its gemv's bits: 1-9 tokens (the
// kernels' token groups and their remainders), a tail group of rows, padded activation and result
// strides (the padding of y must stay untouched), and rows of 1025 blocks (the AVX2 kernels take
// columns in chunks of 1024 blocks). Returns how many types have a gemm on this table (a check that
// found none tests nothing).
inline int check_quant_gemm(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  int with_gemm = 0;
  for (DType t : kTypes) {
    const TypeKernels& k = simd.weights[static_cast<uint32_t>(t)];
    if (k.gemm == nullptr) continue;
    ++with_gemm;
    for (int64_t blocks : {1, 3, 1025}) {
      for (Fill fill : {Fill::RandomBits, Fill::Extreme, Fill::Quantized}) {
        const int64_t rows = 13, cols = blocks * dtype_info(t).block_size;
        const size_t rb = dtype_row_bytes(t, cols);
        std::vector<uint8_t> w(rb * rows);
        for (int64_t r = 0; r < rows; ++r) fill_row(t, blocks, fill, rng, &w[r * rb]);
        const int max_tokens = 9;
        const size_t xs = act_row_bytes(act_of(t), cols) + 32;  // activation rows 32 bytes apart
        std::vector<uint8_t> x(xs * max_tokens);
        for (int i = 0; i < max_tokens; ++i) {
          const std::vector<uint8_t> a = make_act(scalar, t, cols, fill == Fill::Extreme ? Fill::Extreme : Fill::Quantized, 0, rng);
          std::memcpy(&x[i * xs], a.data(), xs - 32);
        }
        const size_t ys = static_cast<size_t>(rows) + 2;
        for (int n = 1; n <= max_tokens; ++n) {
          std::vector<float> got(ys * n, -777.0f), want(rows);
          k.gemm(w.data(), rb, rows, x.data(), xs, n, cols, got.data(), ys);
          int mismatches = 0;
          for (int i = 0; i < n; ++i) {
            k.gemv(w.data(), rb, rows, &x[i * xs], cols, want.data());
            for (int64_t r = 0; r < rows; ++r) mismatches += std::memcmp(&want[r], &got[i * ys + r], sizeof(float)) == 0 ? 0 : 1;
            for (size_t r = static_cast<size_t>(rows); r < ys; ++r) mismatches += got[i * ys + r] == -777.0f ? 0 : 1;
          }
          if (mismatches != 0)
            ::loam_test::record_failure(__FILE__, __LINE__, std::string(simd.isa) + " " + dtype_name(t) + " gemm: " + std::to_string(mismatches) +
                 " outputs differ from gemv, " + std::to_string(n) + " tokens x " + std::to_string(blocks) +
                 " blocks, " + fill_name(fill));
        }
      }
    }
  }
  return with_gemm;
}

// Activations that stress the rounding: with amax = A, x = A * (k + 0.5) / 127 makes x * 127 / A
// an exact or near tie (x = A / 2 gives 63.5 exactly: even rounds down, 64.5 rounds up), next to
// random values, zeros, all-zero blocks, negative amax and tiny magnitudes.
inline std::vector<float> tricky_activations(int64_t n, int block, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (int64_t b = 0; b < n / block; ++b) {
    float* blk = x.data() + b * block;
    const int kind = static_cast<int>(b % 5);
    const float a = std::ldexp(1.0f + (rng() % 1000) / 1000.0f, static_cast<int>(rng() % 40) - 20);
    for (int i = 0; i < block; ++i) {
      switch (kind) {
        case 0: blk[i] = normal(rng); break;
        case 1: blk[i] = 0.0f; break;  // amax = 0: scale 0, codes 0
        case 2: blk[i] = (rng() % 2 ? a : -a) * (static_cast<int>(rng() % 127) + 0.5f) / 127.0f; break;
        case 3: blk[i] = (rng() % 2 ? 0.5f : -0.5f) * a; break;
        default: blk[i] = rng() % 4 == 0 ? 0.0f : a * normal(rng) * 1e-3f; break;
      }
    }
    blk[rng() % block] = kind == 1 ? 0.0f : (rng() % 2 ? a : -a);  // the block's amax, either sign
  }
  return x;
}


// The table's activation quantizers write the scalar quantizers' blocks byte for byte.
inline void check_act_quantizers(const KernelTable& scalar, const KernelTable& simd, std::mt19937& rng) {
  for (DType act : {DType::Q8_0, DType::Q8_K}) {
    const uint32_t ai = static_cast<uint32_t>(act);
    REQUIRE(simd.quantize_act[ai] != nullptr);
    const int block = dtype_info(act).block_size;
    for (int64_t blocks : {1, 2, 7, 40}) {
      const int64_t n = blocks * block;
      const std::vector<float> x = tricky_activations(n, block, rng);
      std::vector<uint8_t> ys(act_row_bytes(act, n) + 8, 0xA5), yv(ys.size(), 0x5A);
      std::fill(yv.end() - 8, yv.end(), 0xA5);  // same guard bytes: nothing written past the row
      scalar.quantize_act[ai](x.data(), ys.data(), n);
      simd.quantize_act[ai](x.data(), yv.data(), n);
      const bool same = ys == yv;
      if (!same) {
        size_t i = 0;
        while (ys[i] == yv[i]) ++i;
        std::fprintf(stderr, "  %s %s blocks=%lld: first differing byte %zu (scalar %d, simd %d)\n",
                     simd.isa, dtype_name(act), static_cast<long long>(blocks), i, ys[i], yv[i]);
      }
      CHECK(same);
    }
  }
}

}  // namespace kernel_checks
