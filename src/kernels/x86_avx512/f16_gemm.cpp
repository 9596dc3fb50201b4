// AVX-512 gemm for F16 weights (prompts, batches) and attention's F16 key rows, in the AVX2 float
// order, so that it gives the AVX2 gemv's bits for every token and an AVX-512 CPU keeps one float
// order for F16 (decode runs the AVX2 gemv). That order keeps one 8-lane accumulator per row and
// token: lane k adds fma(w[i + k], x[i + k]) for i = 0, 8, 16, ..., then the lanes are summed in a
// fixed tree (x86_avx2/float_kernels.cpp). Here one 512-bit register holds the accumulators of two
// rows (lanes 0-7 and 8-15), against the token's 8 activations in both halves, so every fused
// multiply-add does the work of two AVX2 ones, with each lane's operations unchanged. A tile of
// long rows is 8 weight rows (4 registers, converted once per 8 columns) by up to 6 tokens (24
// accumulators). Key rows (head_dim columns, up to kShortRow) meet a sum of lanes every head_dim / 8
// multiply-adds: a tile of 4 rows by up to 8 query heads, and the tree done for 4 rows at once in
// registers (sums4). Rows whose length is not a multiple of 8 and the rows left over by the tiles
// go to the AVX2 gemm (float_gemm.h), which gives the same bits.
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx2/float_gemm.h"
#include "kernels/x86_avx512/simd.h"
#include "kernels/x86_avx512/vnni_ops.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

constexpr int kPairs = 4;      // row pairs per tile: 8 weight rows
constexpr int kMaxTokens = 6;  // tokens per tile: 24 accumulators, 4 weight registers, 1 activation
// Rows up to avx2::kShortRow columns are attention's key rows: tiles of 4 rows by up to kKeyTokens
// query heads (16 accumulators), in blocks of avx2::kKeyBlock rows that stay in L1 while every pass
// of heads goes over them (float_gemm.h). TinyLlama's group of 8 heads is one pass.
using avx2::kKeyBlock;
using avx2::kShortRow;
constexpr int kKeyTokens = 8;
// A key tile fetches the rows this far on: at depth they come from memory, a head's slice of each
// row_bytes apart, faster than the hardware prefetchers bring them (value_sums.cpp has the figures).
constexpr int64_t kKeyPrefetchRows = 16;

// Lanes 0-7: row a's 8 weights at p as floats; lanes 8-15: row b's.
inline __m512 row_pair(const uint8_t* a, const uint8_t* b) {
  return _mm512_cvtph_ps(_mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1));
}

// The AVX2 order's tree over 8 lanes: m_j = l_j + l_(j+4), then (m0 + m1) + (m2 + m3).
inline float tree8(const float* l) {
  const float m0 = l[0] + l[4], m1 = l[1] + l[5], m2 = l[2] + l[6], m3 = l[3] + l[7];
  return (m0 + m1) + (m2 + m3);
}

// Rows [0, 8) of w against tokens [0, NT) (x + t * xs), whole rows of n columns (a multiple of 8);
// y[r + t * ys].
template <int NT>
void tile(const uint8_t* w, size_t row_bytes, const float* x, size_t xs, int64_t n, float* y, size_t ys) {
  __m512 acc[NT][kPairs];
  for (int t = 0; t < NT; ++t)
    for (int p = 0; p < kPairs; ++p) acc[t][p] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    __m512 wv[kPairs];
    for (int p = 0; p < kPairs; ++p)
      wv[p] = row_pair(w + (2 * p) * row_bytes + 2 * i, w + (2 * p + 1) * row_bytes + 2 * i);
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x + t * xs + i));
      for (int p = 0; p < kPairs; ++p) acc[t][p] = _mm512_fmadd_ps(wv[p], xv, acc[t][p]);
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int p = 0; p < kPairs; ++p) {
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, acc[t][p]);
      y[t * ys + 2 * p] = tree8(lanes);
      y[t * ys + 2 * p + 1] = tree8(lanes + 8);
    }
}

// y[0..4) = the tree sums of a's two rows (lanes 0-7, 8-15), then b's. The 128-bit quarters
// [a0 a2 b0 b2] + [a1 a3 b1 b3] put each row's m_j = l_j + l_(j+4) in one quarter; within each,
// lane 0 + lane 1 and lane 2 + lane 3 (the pairs' other lanes add the same two values), then those
// two: the AVX2 hsum8's additions, for 4 rows in 7 instructions, one permutation and a store.
inline void sums4(__m512 a, __m512 b, float* y) {
  const __m512 m = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
  const __m512 pairs = _mm512_add_ps(m, _mm512_permute_ps(m, 0xB1));      // lanes 0, 2: m0 + m1, m2 + m3
  const __m512 sums = _mm512_add_ps(pairs, _mm512_permute_ps(pairs, 0x4E));  // lane 0: their sum
  const __m512i firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  _mm512_mask_storeu_ps(y, 0xF, _mm512_permutexvar_ps(firsts, sums));
}

// Key rows [0, 4) of w against query heads [0, NT) (x + t * xs), n columns (a multiple of 8);
// y[r + t * ys].
template <int NT>
void key_tile(const uint8_t* w, size_t row_bytes, const float* x, size_t xs, int64_t n, float* y, size_t ys) {
  __m512 acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  for (int64_t r = 0; r < 4; ++r) prefetch_ahead(w + r * row_bytes, kKeyPrefetchRows * row_bytes, 2 * n);
  for (int64_t i = 0; i < n; i += 8) {
    const __m512 w01 = row_pair(w + 2 * i, w + row_bytes + 2 * i);
    const __m512 w23 = row_pair(w + 2 * row_bytes + 2 * i, w + 3 * row_bytes + 2 * i);
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x + t * xs + i));
      acc[t][0] = _mm512_fmadd_ps(w01, xv, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(w23, xv, acc[t][1]);
    }
  }
  for (int t = 0; t < NT; ++t) sums4(acc[t][0], acc[t][1], y + t * ys);
}

// Key rows (n_cols <= kShortRow, a multiple of 8) against every query head: blocks of kKeyBlock
// rows, 4 at a time; the last n_rows % 4 rows through the AVX2 gemm.
void key_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, size_t xs, int n_tokens,
              int64_t n_cols, float* y, size_t y_stride) {
  const int64_t tiled = n_rows - n_rows % 4;
  for (int64_t r0 = 0; r0 < tiled; r0 += kKeyBlock) {
    const int64_t r1 = tiled - r0 < kKeyBlock ? tiled : r0 + kKeyBlock;
    in_token_passes<kKeyTokens>(n_tokens, [&](auto nt, int t) {
      for (int64_t r = r0; r < r1; r += 4)
        key_tile<decltype(nt)::value>(w + static_cast<size_t>(r) * row_bytes, row_bytes, x + t * xs, xs, n_cols,
                                      y + t * y_stride + r, y_stride);
    });
  }
  if (tiled < n_rows)
    avx2::gemm_f16(w + static_cast<size_t>(tiled) * row_bytes, row_bytes, n_rows - tiled, x,
                   xs * sizeof(float), n_tokens, n_cols, y + tiled, y_stride);
}

// GemmFn.
void gemm_f16(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
              int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  if (n_cols % 8 != 0) {
    avx2::gemm_f16(w, row_bytes, n_rows, x, x_stride, n_tokens, n_cols, y, y_stride);
    return;
  }
  const float* xf = static_cast<const float*>(x);
  const size_t xs = x_stride / sizeof(float);
  if (n_cols <= kShortRow) {
    key_rows(w, row_bytes, n_rows, xf, xs, n_tokens, n_cols, y, y_stride);
    return;
  }
  const int64_t tiled = n_rows - n_rows % (2 * kPairs);
  // Token groups outermost, as in the AVX2 gemm: the caller's row chunk stays in L2 while each
  // group of tokens passes over it.
  in_token_passes<kMaxTokens>(n_tokens, [&](auto nt, int t) {
    for (int64_t r = 0; r < tiled; r += 2 * kPairs)
      tile<decltype(nt)::value>(w + static_cast<size_t>(r) * row_bytes, row_bytes, xf + t * xs, xs, n_cols,
                                y + t * y_stride + r, y_stride);
  });
  if (tiled < n_rows)
    avx2::gemm_f16(w + static_cast<size_t>(tiled) * row_bytes, row_bytes, n_rows - tiled, x, x_stride, n_tokens,
                   n_cols, y + tiled, y_stride);
}

}  // namespace

void register_f16_gemm(KernelTable& table) {
  // Only the multi-token product: one token takes the AVX2 gemv, whose bits this gives.
  table.weights[static_cast<uint32_t>(DType::F16)].gemm = gemm_f16;
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
