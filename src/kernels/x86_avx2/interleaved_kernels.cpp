// AVX2 gemv and gemm over Q8_0, Q4_0, Q4_K, Q5_K and Q6_K weights in the interleaved layouts (quant/interleave.h), with
// Q8_0 / Q8_K activations. Q4_0: Per group of 8 rows and block column: one 16-byte load and conversion gives the 8
// rows' scales, and each of four 32-byte loads holds 4 code bytes of every row, one row per 32-bit
// lane. Multiplying those lanes with the matching 4 activation bytes broadcast to all lanes
// (maddubs, then madd) leaves each row's sum in its own lane: no per-row loads, no scale gather and
// no transposition of row sums, which the file layout needs (x86_avx2/quant_kernels.cpp).
//
// The integer sums and the float operations per row are those of gemv_q8_0_act<Q4_0Kernel>, so
// results are bit-identical to it (tested in test_interleaved_weights).
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx2/quant_common.h"
#include "quant/blocks.h"
#include "quant/interleave.h"

namespace loam {
namespace avx2 {
namespace {

static_assert(kInterleaveRows == kRowLanes, "one row per float lane");

constexpr size_t kScaleBytes = 2 * kRowLanes;
constexpr size_t kColumnBytes = kRowLanes * sizeof(BlockQ4_0);  // one block of each of 8 rows
// Activation blocks prepared per call and column chunk, as in quant_kernels.cpp.
constexpr int64_t kChunkBlocks = 1024;

inline int32_t load_i32(const uint8_t* p) { return static_cast<int32_t>(load_u32(p)); }

// y_t[r] for tokens t < NT (activations x + t * x_stride, results y + t * y_stride): the weights
// are loaded and unpacked once for NT tokens. Each token's integer sums and float operations are
// the same whatever NT is, so every NT gives gemv's results bit for bit.
template <int NT>
void q4_0_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                      size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQK;
  const size_t group_bytes = kRowLanes * row_bytes;
  alignas(32) float dx[NT][kChunkBlocks];       // [token][block] activation scale
  alignas(32) int32_t a_sum[NT][kChunkBlocks];  // [token][block] 8 x the sum of the codes
  if (n_blocks == 0) {
    for (int t = 0; t < NT; ++t)
      for (int64_t r = 0; r < n_rows; ++r) y[t * y_stride + r] = 0.0f;
    return;
  }
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t c0 = 0; c0 < n_blocks; c0 += kChunkBlocks) {
    const int64_t nb = n_blocks - c0 < kChunkBlocks ? n_blocks - c0 : kChunkBlocks;
    // Codes are stored 0..15 for weights code - 8: the centre is taken off once per block.
    const BlockQ8_0* xc[NT];
    prepare_act_chunk<NT>(x, x_stride, c0, nb, 8, xc, dx, a_sum);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
      const uint8_t* group = w + static_cast<size_t>(r0 / kRowLanes) * group_bytes +
                             static_cast<size_t>(c0) * kColumnBytes;
      const uint8_t* next_group = group + group_bytes;
      __m256 acc[NT];  // [token] lane r: row r's running sum
      for (int t = 0; t < NT; ++t)
        acc[t] = c0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(y + t * y_stride + r0);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* col = group + static_cast<size_t>(b) * kColumnBytes;
        prefetch_next_group(next_group, static_cast<size_t>(b) * sizeof(BlockQ4_0), sizeof(BlockQ4_0));
        // [token] int16 lanes: per row, pairs of products; at most 4 x 2 x 2 x 15 x 128 = 30720.
        __m256i s16[NT];
        for (int t = 0; t < NT; ++t) s16[t] = _mm256_setzero_si256();
        for (int i = 0; i < 4; ++i) {
          const __m256i q = load_256(col + kScaleBytes + 32 * i);
          const __m256i lo = _mm256_and_si256(q, low_nibbles);                       // elements 4i..
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibbles);  // 16+4i..
          for (int t = 0; t < NT; ++t) {
            const uint8_t* a = reinterpret_cast<const uint8_t*>(xc[t][b].qs);
            s16[t] = _mm256_add_epi16(
                s16[t], _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(load_i32(a + 4 * i))),
                                         _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load_i32(a + 16 + 4 * i)))));
            pin(s16[t]);
          }
        }
        const __m256 d = _mm256_cvtph_ps(load_128(col));
        for (int t = 0; t < NT; ++t) {
          const __m256i sums = _mm256_sub_epi32(_mm256_madd_epi16(s16[t], ones), _mm256_set1_epi32(a_sum[t][b]));
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(d, _mm256_set1_ps(dx[t][b])), acc[t]);
        }
      }
      for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * y_stride + r0, acc[t]);
    }
  }
}

void gemv_q4_0_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                           int64_t n_cols, float* y) {
  q4_0_interleaved<1>(w, row_bytes, n_rows, static_cast<const uint8_t*>(x), 0, n_cols, y, 0);
}

// Tokens in groups of 4 (the AVX2 registers hold 4 tokens' sums and accumulators), then the rest.
void gemm_q4_0_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                           size_t x_stride, int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  int t = 0;
  for (; t + 4 <= n_tokens; t += 4)
    q4_0_interleaved<4>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  switch (n_tokens - t) {
    case 3: q4_0_interleaved<3>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride); break;
    case 2: q4_0_interleaved<2>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride); break;
    case 1: q4_0_interleaved<1>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride); break;
    default: break;
  }
}

// Calls run(group, t) over tokens [t, t + group) for groups of kGroup tokens (4 or 6), then, for
// 6, one of 4, then the rest (group a compile-time constant): kGroup is what the kernel's
// registers hold (K::kGroup, measured per kernel).
template <int kGroup, typename Run>
inline void in_token_groups(int n_tokens, Run run) {
  static_assert(kGroup == 4 || kGroup == 6, "groups of 4 or 6 tokens");
  int t = 0;
  for (; t + kGroup <= n_tokens; t += kGroup) run(std::integral_constant<int, kGroup>(), t);
  if (kGroup == 6 && t + 4 <= n_tokens) {
    run(std::integral_constant<int, 4>(), t);
    t += 4;
  }
  switch (n_tokens - t) {
    case 3: run(std::integral_constant<int, 3>(), t); break;
    case 2: run(std::integral_constant<int, 2>(), t); break;
    case 1: run(std::integral_constant<int, 1>(), t); break;
    default: break;
  }
}

// Q8_0: each 32-byte run holds code bytes 4i..4i+3 of every row, one row per 32-bit lane, so
// madd(maddubs) against the 4 matching activation bytes broadcast leaves lane r with row r's
// products 4i..4i+3; the 8 runs of a block add up (exactly, in int32) to each row's block dot, and
// one fused multiply-add per block and token applies d_w * d_x: the AVX2 Q8_0 order
// (quant_kernels.cpp, Q8_0Kernel), bit-identical to the file-layout gemv.
constexpr size_t kQ8_0Column = kRowLanes * sizeof(BlockQ8_0);

// NT tokens at once (x + t * x_stride, y + t * y_stride): each code run is loaded and its magnitudes
// taken once for the NT tokens. Per token two registers: the block's integer sums and the running
// float sums. Per token and row the integer sums and float operations are gemv's (NT = 1), so
// every NT gives the same bits.
template <int NT>
void q8_0_interleaved(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t x_stride, int64_t n_cols,
                      float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQK;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * kQ8_0Column;
  const __m256i ones = _mm256_set1_epi16(1);
  const BlockQ8_0* xb[NT];
  for (int t = 0; t < NT; ++t) xb[t] = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* group = w + static_cast<size_t>(r0 / kRowLanes) * group_bytes;
    const uint8_t* next_group = group + group_bytes;
    __m256 acc[NT];  // [token] lane r: row r's running sum
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* col = group + static_cast<size_t>(b) * kQ8_0Column;
      prefetch_next_group(next_group, static_cast<size_t>(b) * sizeof(BlockQ8_0), sizeof(BlockQ8_0));
      __m256i sums[NT];  // [token] lane r: row r's block dot so far
      for (int t = 0; t < NT; ++t) sums[t] = _mm256_setzero_si256();
      for (int i = 0; i < 8; ++i) {
        const __m256i wq = load_256(col + 2 * kRowLanes + 32 * i);
        const __m256i magnitude = _mm256_abs_epi8(wq);
        for (int t = 0; t < NT; ++t) {
          const __m256i ai = _mm256_set1_epi32(load_i32(reinterpret_cast<const uint8_t*>(xb[t][b].qs) + 4 * i));
          // |w| * (a with w's sign): the signed x signed product through the unsigned x signed maddubs.
          sums[t] = _mm256_add_epi32(sums[t], _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(ai, wq)), ones));
          pin(sums[t]);
        }
      }
      const __m256 d = _mm256_cvtph_ps(load_128(col));
      for (int t = 0; t < NT; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[t]), _mm256_mul_ps(d, _mm256_set1_ps(_cvtsh_ss(xb[t][b].d))), acc[t]);
    }
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * y_stride + r0, acc[t]);
  }
}

// Q4_K: per group and super-block column, each 32-byte run holds 4 code bytes of every row: its low
// nibbles are elements of sub-block 2c, its high nibbles of sub-block 2c+1, so the products of the
// two go to separate int16 accumulators (8 runs per sub-block: at most 8 x 2 x 15 x 128 = 30720),
// and one madd each applies the rows' sub-block scales (stored unpacked, one byte per row) and
// widens to int32. The mins term uses the activation sums per sub-block, as the file-layout kernel
// does. Integer totals and float operations per row are those of gemv_q4_K (quant_kernels_k.cpp):
// bit-identical results.
constexpr size_t kQ4_KColumn = 1184;  // quant/interleave.h
constexpr size_t kQ4_KDmin = 16, kQ4_KScales = 32, kQ4_KMins = 96, kQ4_KCodes = 160;

// Lane r: the scale byte of row r, in both int16 halves (the madd multiplies both pair sums).
inline __m256i scale_pairs(const uint8_t* scales) {
  const __m256i s = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales)));
  return _mm256_or_si256(s, _mm256_slli_epi32(s, 16));
}

// The integer mins term of a Q4_K / Q5_K column (both lay out d, dmin, scales and mins alike) against one
// token's Q8_K block: lane r holds sum_j m_j * sum(a_j) over the 8 sub-blocks j of row r, exact in int32.
// The activation sums come per 16 elements (bsums), added in pairs to give one per sub-block, two
// sub-blocks per 32-bit word; each madd multiplies a row's pair of mins by such a word.
inline __m256i mins_term(const uint8_t* col, const BlockQ8_K& xb) {
  const __m128i sums = _mm_hadd_epi16(load_128(xb.bsums), load_128(xb.bsums + 8));
  __m256i mins = _mm256_setzero_si256();
  auto min_pair = [&](auto p_tag) {
    constexpr int p = decltype(p_tag)::value;
    const __m256i m = _mm256_cvtepu8_epi16(load_128(col + kQ4_KMins + 16 * p));  // [m_2p m_2p+1] per row
    mins = _mm256_add_epi32(mins, _mm256_madd_epi16(m, _mm256_set1_epi32(_mm_extract_epi32(sums, p))));
  };
  min_pair(std::integral_constant<int, 0>());
  min_pair(std::integral_constant<int, 1>());
  min_pair(std::integral_constant<int, 2>());
  min_pair(std::integral_constant<int, 3>());
  return mins;
}

// NT tokens at once (x + t * x_stride, y + t * y_stride), as q4_0_interleaved. Per token: two
// int16 sums, the scaled sum and two accumulators; at NT = 4 the accumulators (touched once per
// block) spill to the stack while the int16 sums stay in registers, which measured 3% faster on
// Q4_K_M prompts than NT = 2 (AVX2 EPYC).
template <int NT>
void q4_K_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                      size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQKK;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * kQ4_KColumn;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const BlockQ8_K* xb[NT];
  for (int t = 0; t < NT; ++t) xb[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* group = w + static_cast<size_t>(r0 / kRowLanes) * group_bytes;
    const uint8_t* next_group = group + group_bytes;
    __m256 acc[NT], acc_min[NT];  // [token] lane r: row r's running sum and mins term
    for (int t = 0; t < NT; ++t) acc[t] = acc_min[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* col = group + static_cast<size_t>(b) * kQ4_KColumn;
      // The same column of the next group, swept while this one is computed (row_groups.h).
      const uint8_t* next_col = next_group + static_cast<size_t>(b) * kQ4_KColumn;
      for (size_t l = 0; l < kQ4_KColumn; l += 64) __builtin_prefetch(next_col + l, 0, 2);
      __m256i scaled[NT];  // [token] lane r: sum_j sc_j * sum(code * a) of row r
      for (int t = 0; t < NT; ++t) scaled[t] = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        __m256i p_lo[NT], p_hi[NT];
        for (int t = 0; t < NT; ++t) p_lo[t] = p_hi[t] = _mm256_setzero_si256();
        for (int i = 0; i < 8; ++i) {
          const __m256i q = load_256(col + kQ4_KCodes + 32 * (8 * c + i));
          const __m256i lo = _mm256_and_si256(q, low_nibbles);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibbles);
          for (int t = 0; t < NT; ++t) {
            const uint8_t* a = reinterpret_cast<const uint8_t*>(xb[t][b].qs) + 64 * c + 4 * i;
            p_lo[t] = _mm256_add_epi16(p_lo[t], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(load_i32(a))));
            p_hi[t] = _mm256_add_epi16(p_hi[t], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(load_i32(a + 32))));
            pin(p_lo[t]);
            pin(p_hi[t]);
          }
        }
        const __m256i s_lo = scale_pairs(col + kQ4_KScales + 8 * (2 * c));
        const __m256i s_hi = scale_pairs(col + kQ4_KScales + 8 * (2 * c + 1));
        for (int t = 0; t < NT; ++t)
          scaled[t] = _mm256_add_epi32(scaled[t], _mm256_add_epi32(_mm256_madd_epi16(p_lo[t], s_lo),
                                                                   _mm256_madd_epi16(p_hi[t], s_hi)));
      }
      const __m256 d = _mm256_cvtph_ps(load_128(col));
      const __m256 dmin = _mm256_cvtph_ps(load_128(col + kQ4_KDmin));
      for (int t = 0; t < NT; ++t) {
        const __m256i mins = mins_term(col, xb[t][b]);
        const __m256 dx = _mm256_set1_ps(xb[t][b].d);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(scaled[t]), _mm256_mul_ps(d, dx), acc[t]);
        acc_min[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(dmin, dx), acc_min[t]);
      }
    }
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * y_stride + r0, _mm256_sub_ps(acc[t], acc_min[t]));
  }
}

void gemv_q4_K_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                           int64_t n_cols, float* y) {
  q4_K_interleaved<1>(w, row_bytes, n_rows, static_cast<const uint8_t*>(x), 0, n_cols, y, 0);
}

void gemm_q4_K_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                           size_t x_stride, int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  int t = 0;
  for (; t + 4 <= n_tokens; t += 4)
    q4_K_interleaved<4>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  for (; t + 2 <= n_tokens; t += 2)
    q4_K_interleaved<2>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  if (t < n_tokens)
    q4_K_interleaved<1>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
}

// Q5_K: code run 8c + i holds elements 4i..4i+3 of sub-blocks 2c (low nibbles) and 2c + 1 (high
// nibbles) for all 8 rows, one row per 32-bit lane, and fifth-bit run i those elements' fifth bits
// of every sub-block. Each row's integer total sum_j sc_j * sum(code * a) over the super-block is
// exact in int32, and one fused multiply-add per super-block by dx * d adds it up; the mins term as
// in Q4_K, in its own sum added at the end. That is the AVX2 Q5_K order (gemv_q5_K in
// quant_kernels_k.cpp follows it: bit-identical results).
constexpr size_t kQ5_KColumn = 1440;  // quant/interleave.h
constexpr size_t kQ5_KHigh = 160, kQ5_KCodes = 416;

// Bit J of every byte of v moved to bit 4 (16-bit shifts: bits crossing a byte are masked away).
template <int J>
inline __m256i fifth_bit(__m256i v, __m256i bit4) {
  const __m256i moved = J <= 4 ? _mm256_slli_epi16(v, 4 - J) : _mm256_srli_epi16(v, J - 4);
  return _mm256_and_si256(moved, bit4);
}

// NT tokens at once (x + t * x_stride, y + t * y_stride): each code run is unpacked once for the
// NT tokens. Per token and row the integer sums and float operations are gemv's (NT = 1), so
// every NT gives the same bits.
template <int NT>
void q5_K_interleaved(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t x_stride, int64_t n_cols,
                      float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQKK;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * kQ5_KColumn;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  const BlockQ8_K* xb[NT];
  for (int t = 0; t < NT; ++t) xb[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* group = w + static_cast<size_t>(r0 / kRowLanes) * group_bytes;
    const uint8_t* next_group = group + group_bytes;
    __m256 acc[NT];      // [token] lane r: row r's running sum of the scaled codes
    __m256 acc_min[NT];  // [token] lane r: row r's running mins term
    for (int t = 0; t < NT; ++t) acc[t] = acc_min[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* col = group + static_cast<size_t>(b) * kQ5_KColumn;
      const uint8_t* next_col = next_group + static_cast<size_t>(b) * kQ5_KColumn;
      for (size_t l = 0; l < kQ5_KColumn; l += 64) __builtin_prefetch(next_col + l, 0, 2);
      // [sub-block j] lane r: sc_j of row r in both int16 halves. Kept in memory and read as madd
      // operands: the token sums and the unpacked codes already fill the 16 AVX2 registers.
      alignas(32) int32_t sc_mem[8][kRowLanes];
      for (int j = 0; j < 8; ++j)
        _mm256_store_si256(reinterpret_cast<__m256i*>(sc_mem[j]), scale_pairs(col + kQ4_KScales + 8 * j));
      auto sc = [&](int j) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(sc_mem[j])); };
      const uint8_t* a[NT];
      for (int t = 0; t < NT; ++t) a[t] = reinterpret_cast<const uint8_t*>(xb[t][b].qs);
      __m256i lane[NT];  // [token] lane r: row r's integer sum of sc_j * code * a so far
      for (int t = 0; t < NT; ++t) lane[t] = _mm256_setzero_si256();
      // Sub-blocks 2c and 2c + 1, runs i = 4h .. 4h + 3: four maddubs pair sums (each below
      // 2 * 31 * 128) add up in int16 (below 31744) before one madd per token applies the scale.
      auto quarter = [&](auto c_tag, int h) {
        constexpr int c = decltype(c_tag)::value;
        __m256i s0[NT], s1[NT];  // [token] int16 pair sums of sub-block 2c / 2c + 1
        for (int t = 0; t < NT; ++t) s0[t] = s1[t] = _mm256_setzero_si256();
        for (int i = 4 * h; i < 4 * h + 4; ++i) {
          const __m256i qh = load_256(col + kQ5_KHigh + 32 * i);
          const __m256i q = load_256(col + kQ5_KCodes + 32 * (8 * c + i));
          const __m256i c0 = _mm256_or_si256(_mm256_and_si256(q, low_nibbles), fifth_bit<2 * c>(qh, bit4));
          const __m256i c1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibbles),
                                             fifth_bit<2 * c + 1>(qh, bit4));
          for (int t = 0; t < NT; ++t) {
            s0[t] = _mm256_add_epi16(s0[t], _mm256_maddubs_epi16(c0, _mm256_set1_epi32(load_i32(a[t] + 64 * c + 4 * i))));
            s1[t] = _mm256_add_epi16(s1[t], _mm256_maddubs_epi16(c1, _mm256_set1_epi32(load_i32(a[t] + 64 * c + 32 + 4 * i))));
            pin(s0[t]);
            pin(s1[t]);
          }
        }
        for (int t = 0; t < NT; ++t)
          lane[t] = _mm256_add_epi32(lane[t], _mm256_add_epi32(_mm256_madd_epi16(s0[t], sc(2 * c)),
                                                               _mm256_madd_epi16(s1[t], sc(2 * c + 1))));
      };
      for (int h = 0; h < 2; ++h) {
        quarter(std::integral_constant<int, 0>(), h);
        quarter(std::integral_constant<int, 1>(), h);
        quarter(std::integral_constant<int, 2>(), h);
        quarter(std::integral_constant<int, 3>(), h);
      }
      const __m256 d = _mm256_cvtph_ps(load_128(col));
      for (int t = 0; t < NT; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(xb[t][b].d), d), _mm256_cvtepi32_ps(lane[t]), acc[t]);
      const __m256 dmin = _mm256_cvtph_ps(load_128(col + kQ4_KDmin));
      for (int t = 0; t < NT; ++t) {
        const __m256i mins = mins_term(col, xb[t][b]);
        // fnmadd(p, m, acc) rounds -(p * m) + acc once: the scalar fma(-(dx * dmin), m, acc).
        acc_min[t] = _mm256_fnmadd_ps(_mm256_mul_ps(_mm256_set1_ps(xb[t][b].d), dmin), _mm256_cvtepi32_ps(mins),
                                      acc_min[t]);
      }
    }
    for (int t = 0; t < NT; ++t)
      _mm256_storeu_ps(y + t * y_stride + r0, _mm256_add_ps(acc[t], acc_min[t]));
  }
}

// Q6_K: per step s = 8h + i, three runs give codes of elements 128h + 32k + 4i .. +3 of all 8 rows
// for k = 0..3 (quant/interleave.h), one row per 32-bit lane; each maddubs product goes through a
// madd with its 16-element group's scale (rows' scales side by side in int16 pairs), since codes
// up to 63 leave no room to add two pair sums in int16 and still take a scale later. The centring
// (code - 32) uses the activation sums per group, as the file-layout kernel does: integer totals
// and float operations per row are those of gemv_q6_K (quant_kernels_k.cpp), bit for bit.
constexpr size_t kQ6_KColumn = 1680;  // quant/interleave.h
constexpr size_t kQ6_KScales = 16, kQ6_KCodes = 144;

template <int NT>
void q6_K_interleaved(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t x_stride, int64_t n_cols,
                      float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQKK;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * kQ6_KColumn;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F), high_bits = _mm256_set1_epi8(0x30);
  // In-lane byte shuffles copying the low (even) or high (odd) int16 of each 32-bit lane to both.
  const __m256i even_words = _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13,
                                              0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13);
  const __m256i odd_words = _mm256_setr_epi8(2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15,
                                             2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15);
  const BlockQ8_K* xb[NT];
  for (int t = 0; t < NT; ++t) xb[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* group = w + static_cast<size_t>(r0 / kRowLanes) * group_bytes;
    const uint8_t* next_group = group + group_bytes;
    __m256 acc[NT];  // [token] lane r: row r's running sum
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* col = group + static_cast<size_t>(b) * kQ6_KColumn;
      const uint8_t* next_col = next_group + static_cast<size_t>(b) * kQ6_KColumn;
      for (size_t l = 0; l < kQ6_KColumn; l += 64) __builtin_prefetch(next_col + l, 0, 2);
      // pair_mem[p] lane r: [scales[2p], scales[2p+1]] of row r as int16; sc_mem[g] lane r: scales[g]
      // of row r in both int16 halves. On the stack, read as madd operands (registers are full).
      alignas(32) int16_t pair_mem[8][2 * kRowLanes];
      alignas(32) int16_t sc_mem[16][2 * kRowLanes];
      for (int p = 0; p < 8; ++p) {
        const __m256i v = _mm256_cvtepi8_epi16(load_128(col + kQ6_KScales + 16 * p));
        _mm256_store_si256(reinterpret_cast<__m256i*>(pair_mem[p]), v);
        _mm256_store_si256(reinterpret_cast<__m256i*>(sc_mem[2 * p]), _mm256_shuffle_epi8(v, even_words));
        _mm256_store_si256(reinterpret_cast<__m256i*>(sc_mem[2 * p + 1]), _mm256_shuffle_epi8(v, odd_words));
      }
      auto sc = [&](int g) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(sc_mem[g])); };
      __m256i sums[NT];  // [token] lane r: sum_g scales[g] * sum(code * a) of row r
      for (int t = 0; t < NT; ++t) sums[t] = _mm256_setzero_si256();
      for (int s = 0; s < 16; ++s) {
        const uint8_t* run = col + kQ6_KCodes + 96 * s;
        const __m256i ql0 = load_256(run), ql1 = load_256(run + 32), qh = load_256(run + 64);
        // Bits 2k, 2k+1 of qh moved to bits 4, 5 (16-bit shifts: what crosses a byte is masked off).
        const __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, low_nibbles), _mm256_and_si256(_mm256_slli_epi16(qh, 4), high_bits));
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, low_nibbles), _mm256_and_si256(_mm256_slli_epi16(qh, 2), high_bits));
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_nibbles), _mm256_and_si256(qh, high_bits));
        const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_nibbles),
                                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), high_bits));
        const int h = s / 8, i = s % 8;
        const int g0 = 8 * h + i / 4;  // the group of element 128h + 4i; + 2k for the other runs
        for (int t = 0; t < NT; ++t) {
          const uint8_t* a = reinterpret_cast<const uint8_t*>(xb[t][b].qs) + 128 * h + 4 * i;
          // int16 pair sums at most 2 * 63 * 128
          const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, _mm256_set1_epi32(load_i32(a))), sc(g0));
          const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_set1_epi32(load_i32(a + 32))), sc(g0 + 2));
          const __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(q2, _mm256_set1_epi32(load_i32(a + 64))), sc(g0 + 4));
          const __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(q3, _mm256_set1_epi32(load_i32(a + 96))), sc(g0 + 6));
          sums[t] = _mm256_add_epi32(sums[t], _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
        }
      }
      const __m256 d = _mm256_cvtph_ps(load_128(col));
      for (int t = 0; t < NT; ++t) {
        __m256i centre = _mm256_setzero_si256();  // lane r: sum_g scales[g] * sum(a_g) of row r
        for (int p = 0; p < 8; ++p)
          centre = _mm256_add_epi32(centre, _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(pair_mem[p])),
                                                              _mm256_set1_epi32(load_i32(reinterpret_cast<const uint8_t*>(xb[t][b].bsums + 2 * p)))));
        const __m256i v = _mm256_sub_epi32(sums[t], _mm256_slli_epi32(centre, 5));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_mul_ps(d, _mm256_set1_ps(xb[t][b].d)), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * y_stride + r0, acc[t]);
  }
}

// The kernels run tokens in groups, as K::run<NT>(w, n_rows, x, x_stride, n_cols, y, y_stride); their
// gemv is run<1>, their gemm takes tokens in_token_groups<K::kGroup>. Measured on prompts (pp512,
// AVX2 EPYC): Q8_0 (two registers per token) in groups of 4 tokens 106 tok/s, of 5 101, of 6 101,
// of 8 105; Q5_K_M (float lanes on the stack) in groups of 4 88, of 6 92, of 8 91.
struct Q8_0Run {
  static constexpr int kGroup = 4;
  template <int NT>
  static void run(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t xs, int64_t n_cols, float* y, size_t ys) {
    q8_0_interleaved<NT>(w, n_rows, x, xs, n_cols, y, ys);
  }
};
struct Q5_KRun {
  static constexpr int kGroup = 6;
  template <int NT>
  static void run(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t xs, int64_t n_cols, float* y, size_t ys) {
    q5_K_interleaved<NT>(w, n_rows, x, xs, n_cols, y, ys);
  }
};
struct Q6_KRun {
  static constexpr int kGroup = 6;
  template <int NT>
  static void run(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t xs, int64_t n_cols, float* y, size_t ys) {
    q6_K_interleaved<NT>(w, n_rows, x, xs, n_cols, y, ys);
  }
};

template <class K>
void gemv_grouped(const uint8_t* w, size_t, int64_t n_rows, const void* x, int64_t n_cols, float* y) {
  K::template run<1>(w, n_rows, static_cast<const uint8_t*>(x), 0, n_cols, y, 0);
}

template <class K>
void gemm_grouped(const uint8_t* w, size_t, int64_t n_rows, const void* x, size_t x_stride, int n_tokens,
                  int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  in_token_groups<K::kGroup>(n_tokens, [&](auto group, int t) {
    K::template run<decltype(group)::value>(w, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  });
}

}  // namespace

void register_interleaved_kernels(KernelTable& table) {
  TypeKernels& q8_0 = table.weights[static_cast<uint32_t>(DType::Q8_0)];
  q8_0.gemv_interleaved = gemv_grouped<Q8_0Run>;
  q8_0.gemm_interleaved = gemm_grouped<Q8_0Run>;
  q8_0.prefer_interleaved = true;
  TypeKernels& q4_0 = table.weights[static_cast<uint32_t>(DType::Q4_0)];
  q4_0.gemv_interleaved = gemv_q4_0_interleaved;
  q4_0.gemm_interleaved = gemm_q4_0_interleaved;
  q4_0.prefer_interleaved = true;
  TypeKernels& q4_k = table.weights[static_cast<uint32_t>(DType::Q4_K)];
  q4_k.gemv_interleaved = gemv_q4_K_interleaved;
  q4_k.gemm_interleaved = gemm_q4_K_interleaved;
  TypeKernels& q5_k = table.weights[static_cast<uint32_t>(DType::Q5_K)];
  q5_k.gemv_interleaved = gemv_grouped<Q5_KRun>;
  q5_k.gemm_interleaved = gemm_grouped<Q5_KRun>;
  q5_k.prefer_interleaved = true;
  q4_k.prefer_interleaved = true;
  TypeKernels& q6_k = table.weights[static_cast<uint32_t>(DType::Q6_K)];
  q6_k.gemv_interleaved = gemv_grouped<Q6_KRun>;
  q6_k.gemm_interleaved = gemm_grouped<Q6_KRun>;
  q6_k.prefer_interleaved = true;
}

}  // namespace avx2
}  // namespace loam
