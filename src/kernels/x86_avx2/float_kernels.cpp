// AVX2 kernels for float weights (F32, F16 via F16C, BF16 via a 16-bit shift). Same accumulation
// pattern rule as the AVX-512 file: a row's result depends only on its length, never on how many
// rows are computed together. Tails are copied into a zero-padded block of 8.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx2/float_gemm.h"

namespace loam {
namespace avx2 {
namespace {

// One float order for every row: one accumulator per row, acc += w[i..i+8) * x[i..i+8) for i = 0,
// 8, ..., the last n % 8 columns through zero-padded copies, then the 8 lanes summed by the tree of
// hsum8 (below). gemm's register tile wants it: 4 weight rows against 3 activation rows, 12
// accumulators, 3 activation vectors and a weight vector fill the 16 registers, and 7 loads (4
// conversions) feed 12 fused multiply-adds, over whole rows in one pass. Measured on the AVX2 EPYC
// (one thread, 512 activation rows, 32 x 2048 / 16 x 5632 / 32 x 5632 F16): 46.9 / 47.3 / 46.2
// GMAC/s (the core's FMA peak is 51), where a tile that kept two accumulators per row and so ran
// over each block of 1024 columns twice did 41.9 / 39.9 / 40.8; 3 x 4 tiles did 40.6 on the first
// shape, 2 x 6 26. Attention's key rows (head_dim columns) take the same tile: the sums of their
// lanes, one per (row, query head) every head_dim / 8 multiply-adds, are done for 4 or 8 results at
// once (reduce4, reduce8), in hsum8's tree for each. Scores of one decode token at depth 4096
// (TinyLlama: 4 KV heads x 8 query heads x 64, one layer, one thread): 0.54-0.58 ms, when key
// rows kept two accumulators each in a 1 x 4 tile with a horizontal sum per (row, head), ->
// 0.36-0.40.
constexpr int kGemmRows = 4, kGemmTokens = 3;
// Attention's key rows: kShortRow, kKeyBlock (float_gemm.h).

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m256 full(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 full(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m256 full(const uint8_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
};

// The sum of the 8 lanes of v in the order's tree, the scalar kernel's: m_j = l_j + l_(j+4), then
// (m0 + m1) + (m2 + m3).
inline float hsum8(__m256 v) {
  const __m128 m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pairs = _mm_add_ps(m, _mm_movehdup_ps(m));  // lane 0: m0 + m1, lane 2: m2 + m3
  return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehl_ps(pairs, pairs)));
}

// [a.m | b.m]: the m_j of hsum8's tree for two vectors, a's in the low half.
inline __m256 half_sums(__m256 a, __m256 b) {
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

// hsum8 of a, b, c, d as the lanes of one vector, each through hsum8's additions (a horizontal add
// adds the same two values, and addition commutes): 4 results for 10 instructions instead of ~24.
inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
  // lane halves: [a01 a23 c01 c23 | b01 b23 d01 d23], then [a c a c | b d b d]
  const __m256 pairs = _mm256_hadd_ps(half_sums(a, b), half_sums(c, d));
  const __m256 sums = _mm256_hadd_ps(pairs, pairs);
  return _mm_unpacklo_ps(_mm256_castps256_ps128(sums), _mm256_extractf128_ps(sums, 1));
}

// hsum8 of a, b, c, d, e, f, g, h as the lanes of one vector, each through hsum8's additions.
inline __m256 reduce8(__m256 a, __m256 b, __m256 c, __m256 d, __m256 e, __m256 f, __m256 g, __m256 h) {
  // [a01 a23 b01 b23 | e01 e23 f01 f23] and [c.. d.. | g.. h..], then [a b c d | e f g h]
  const __m256 ab = _mm256_hadd_ps(half_sums(a, e), half_sums(b, f));
  const __m256 cd = _mm256_hadd_ps(half_sums(c, g), half_sums(d, h));
  return _mm256_hadd_ps(ab, cd);
}

// acc[r] += row r's last n - i columns (0 < n - i < 8) times x's, both through zero-padded copies.
template <class L, int R>
inline void fma_padded_tail(const uint8_t* w, size_t row_bytes, const float* x, int64_t i, int64_t n,
                            __m256 acc[R]) {
  const int64_t left = n - i;
  alignas(32) float xt[8] = {0};
  std::memcpy(xt, x + i, left * sizeof(float));
  const __m256 xa = _mm256_load_ps(xt);
  for (int r = 0; r < R; ++r) {
    alignas(32) uint8_t wt[32] = {0};
    std::memcpy(wt, w + r * row_bytes + i * L::kBytes, left * L::kBytes);
    acc[r] = _mm256_fmadd_ps(L::full(wt), xa, acc[r]);
  }
}

// y[0..R) = the sums of acc[0..R) (R = 1, 4 or 8). Each element is named, so that the compiler
// keeps acc in registers: through a pointer to the array, GCC 12 put all of a tile's accumulators
// on the stack (stored after the loop, loaded back to be summed).
template <int R>
inline void store_sums(const __m256 (&acc)[R], float* y) {
  if constexpr (R == 8) {
    _mm256_storeu_ps(y, reduce8(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]));
  } else if constexpr (R == 4) {
    _mm_storeu_ps(y, reduce4(acc[0], acc[1], acc[2], acc[3]));
  } else {
    static_assert(R == 1, "rows come 8, 4 or 1 at a time");
    y[0] = hsum8(acc[0]);
  }
}

// R rows' dots with x, in the order; kTail: n may have a last partial 8 columns.
template <class L, int R, bool kTail, bool kPrefetch = false>
inline void dot_rows(const uint8_t* w, size_t row_bytes, const float* x, int64_t n, float* y) {
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    const __m256 xb = _mm256_loadu_ps(x + i + 8);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * row_bytes + i * L::kBytes;
      // The same spot 2R rows on is what the group after next will read: fetching it now keeps
      // more streams in flight than the R the hardware prefetcher tracks on its own. F16 tg64,
      // TinyLlama shape, 3 alternating rounds (AVX2 EPYC): R rows ahead 19.3-19.5 tok/s, 2R
      // 19.7-19.9, 4R 19.2-19.4, none 17.7-18.0. The last groups of a call fetch past its rows
      // (see gemv_rows): computed as an integer, since the address may lie outside the array.
      if (kPrefetch)
        _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + 2 * R * row_bytes),
                     _MM_HINT_T0);
      acc[r] = _mm256_fmadd_ps(L::full(p), xa, acc[r]);
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(L::full(w + r * row_bytes + (i + 8) * L::kBytes), xb, acc[r]);
  }
  if (i + 8 <= n) {
    const __m256 xa = _mm256_loadu_ps(x + i);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(L::full(w + r * row_bytes + i * L::kBytes), xa, acc[r]);
    i += 8;
  }
  if (kTail && i < n) fma_padded_tail<L, R>(w, row_bytes, x, i, n, acc);
  store_sums<R>(acc, y);
}

// Short rows (attention's key rows with no GQA: Llama 2 7B's, 128 columns) go 8 at a time: one
// accumulator per row leaves 4 rows only 4 independent chains of fused multiply-adds.
// Long rows prefetch 2 groups ahead up to the last group, i.e. into the 8 rows after the call's:
// decode hands each thread its share of a matrix in chunks of ~128 KiB (model/matmul.cpp), and
// those rows are the start of its next chunk. Stopping at the call's last rows left every chunk
// to start cold: F16 tg64, TinyLlama shape, AVX2 EPYC, 3 alternating rounds, 1 thread 8.7-9.1 ->
// 9.5-9.7 tok/s, 2 threads 14.3-16.6 -> 14.8-18.0 (a microbenchmark calling gemv on 32-row
// chunks of a matrix lost 6% to whole-matrix calls before, nothing after).
template <class L, bool kTail>
void gemv_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, int64_t n_cols, float* y) {
  int64_t r = 0;
  if (n_cols <= kShortRow)
    for (; r + 8 <= n_rows; r += 8) dot_rows<L, 8, kTail>(w + r * row_bytes, row_bytes, x, n_cols, y + r);
  for (; r + 4 <= n_rows; r += 4) dot_rows<L, 4, kTail, true>(w + r * row_bytes, row_bytes, x, n_cols, y + r);
  for (; r < n_rows; ++r) dot_rows<L, 1, true>(w + r * row_bytes, row_bytes, x, n_cols, y + r);
}

// Rows whose length is a multiple of 8 (every weight matrix and head of the supported models) take
// the version with no tail code, where the compiler keeps the accumulators in registers.
template <class L>
void gemv(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols, float* y) {
  const float* xf = static_cast<const float*>(x);
  if (n_cols % 8 == 0) {
    gemv_rows<L, false>(w, row_bytes, n_rows, xf, n_cols, y);
  } else {
    gemv_rows<L, true>(w, row_bytes, n_rows, xf, n_cols, y);
  }
}

// R weight rows (R = 1 or 4) against G activation rows (x + g * xs floats), in dot_rows' operations
// and order: every result (row r, activation g at y[r + g * ys]) equals gemv's bit for bit. Each
// weight vector is loaded and converted once for the G activation rows. Whole rows at a time:
// splitting the columns into blocks of 1024 (so that the G activation rows stayed in L1 while a band
// of 32 weight rows went through them, their accumulators waiting in memory) measured slower on the
// AVX2 EPYC (one thread, 32 x 2048 / 16 x 5632 / 32 x 5632 F16 against 512 activation rows: 43-44
// GMAC/s against 47-48 without blocks).
template <class L, int R, int G, bool kTail>
inline void tile(const uint8_t* w, size_t row_bytes, const float* x, size_t xs, int64_t n, float* y,
                 size_t ys) {
  __m256 acc[G][R];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[g][r] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if constexpr (R <= G) {  // the R weight vectors in registers, one activation vector at a time
      __m256 wv[R];
      for (int r = 0; r < R; ++r) wv[r] = L::full(w + r * row_bytes + i * L::kBytes);
      for (int g = 0; g < G; ++g) {
        const __m256 xv = _mm256_loadu_ps(x + g * xs + i);
        for (int r = 0; r < R; ++r) acc[g][r] = _mm256_fmadd_ps(wv[r], xv, acc[g][r]);
      }
    } else {  // the G activation vectors in registers, one weight vector at a time
      __m256 xv[G];
      for (int g = 0; g < G; ++g) xv[g] = _mm256_loadu_ps(x + g * xs + i);
      for (int r = 0; r < R; ++r) {
        const __m256 wv = L::full(w + r * row_bytes + i * L::kBytes);
        for (int g = 0; g < G; ++g) acc[g][r] = _mm256_fmadd_ps(wv, xv[g], acc[g][r]);
      }
    }
  }
  if (kTail && i < n)
    for (int g = 0; g < G; ++g) fma_padded_tail<L, R>(w, row_bytes, x + g * xs, i, n, acc[g]);
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) store_sums<R>(acc[g], y + g * ys);
}

// Rows [0, n_rows) against G activation rows, kGemmRows rows at a time, then one at a time.
template <class L, int G, bool kTail>
inline void rows_tile(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, size_t xs,
                      int64_t n, float* y, size_t ys) {
  int64_t row = 0;
  for (; row + kGemmRows <= n_rows; row += kGemmRows)
    tile<L, kGemmRows, G, kTail>(w + static_cast<size_t>(row) * row_bytes, row_bytes, x, xs, n, y + row, ys);
  for (; row < n_rows; ++row)
    tile<L, 1, G, true>(w + static_cast<size_t>(row) * row_bytes, row_bytes, x, xs, n, y + row, ys);
}

// Rows [0, n_rows) against every activation row, kGemmTokens at a time; the rows left over go in
// pairs, so that a lone row is never run by itself: 4 left are 2 + 2, since one activation row keeps
// only 4 accumulators busy.
template <class L, bool kTail>
void rows_all_tokens(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, size_t xs,
                     int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  static_assert(kGemmTokens == 3, "the grouping below is written for groups of 3");
  for (int t = 0; t < n_tokens;) {
    const float* xt = x + static_cast<size_t>(t) * xs;
    float* yt = y + static_cast<size_t>(t) * y_stride;
    const int left = n_tokens - t;
    const int group = left == 4 || left == 2 ? 2 : left == 1 ? 1 : 3;
    if (group == 3) rows_tile<L, 3, kTail>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride);
    if (group == 2) rows_tile<L, 2, kTail>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride);
    if (group == 1) rows_tile<L, 1, kTail>(w, row_bytes, n_rows, xt, xs, n_cols, yt, y_stride);
    t += group;
  }
}

// Short rows (attention's key rows against the query heads of a group) in blocks of kKeyBlock rows,
// every token group passing over a block while it is in L1: a whole head's key rows (4096 x 64 F16
// at depth 4096: 512 KiB) would leave L2 between the passes.
template <class L, bool kTail>
void gemm_rows(const uint8_t* w, size_t row_bytes, int64_t n_rows, const float* x, size_t xs,
               int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  if (n_cols > kShortRow) {
    rows_all_tokens<L, kTail>(w, row_bytes, n_rows, x, xs, n_tokens, n_cols, y, y_stride);
    return;
  }
  for (int64_t r0 = 0; r0 < n_rows; r0 += kKeyBlock) {
    const int64_t rows = n_rows - r0 < kKeyBlock ? n_rows - r0 : kKeyBlock;  // no std::min (check_isa_symbols.sh)
    // The next block's rows, fetched while this one is computed: at depth a decode token's key rows
    // come from memory, a head's slice of each row_bytes apart, and the hardware prefetchers left
    // attention waiting on them. Intel Xeon of issue 8 (LOAM_ISA=avx2), 2 threads, TinyLlama Q4_0
    // tg64 at depth 4096, 2 alternating rounds: 24.8-25.1 -> 26.7-27.0 tok/s with this and
    // row_sum's fetch of the value row 32 on (not measured on an AVX2-only CPU). Into L2: the block
    // being computed must stay in L1 (a 128-value F32 head's 64 rows are 32 KiB, a whole L1 on some
    // CPUs); 3 alternating rounds there, T1 27.1-28.7 tok/s against T0 (into L1) 27.1-27.9.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < n_cols * L::kBytes; i += 64)
        _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(w) + (r0 + kKeyBlock + r) * row_bytes + i),
                     _MM_HINT_T1);
    rows_all_tokens<L, kTail>(w + static_cast<size_t>(r0) * row_bytes, row_bytes, rows, x, xs, n_tokens,
                              n_cols, y + r0, y_stride);
  }
}

// GemmFn. As gemv: rows whose length is a multiple of 8 take the version with no tail code.
template <class L>
void gemm(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
          int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const float* xf = static_cast<const float*>(x);
  const size_t xs = x_stride / sizeof(float);
  if (n_cols % 8 == 0) {
    gemm_rows<L, false>(w, row_bytes, n_rows, xf, xs, n_tokens, n_cols, y, y_stride);
  } else {
    gemm_rows<L, true>(w, row_bytes, n_rows, xf, xs, n_tokens, n_cols, y, y_stride);
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float y;
  dot_rows<LoadF32, 1, true>(reinterpret_cast<const uint8_t*>(a), 0, b, n, &y);
  return y;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

// The value sums read a head's slice of each cache row (bytes at p), the rows row_bytes apart; at
// depth a decode token's rows come from memory faster than the hardware prefetchers bring them, so
// each row fetches the slice of the row kValueFetchRows on (into L1, an integer address: it may lie
// past the rows). Measured with the key rows' fetch in gemm_rows (figures there).
constexpr int64_t kValueFetchRows = 32;
inline void fetch_row_ahead(const uint8_t* p, size_t row_bytes, int64_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p) + kValueFetchRows * row_bytes;
  for (int64_t l = 0; l < bytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(a + l), _MM_HINT_T0);
}

// Rows [r0, r1) of one head added into its outputs [i, i + 8 C): C accumulators loaded from y
// (zeroed before the first block), one broadcast weight per row. So each output gets row_sum's
// fused multiply-adds in row order, whatever the blocks. The unroll pragmas keep GCC 12 from
// turning the loads and stores of acc into block copies, which put acc in memory and stored all C
// registers on every row (the block then ran at half speed).
template <class L, int C>
inline void row_sum_block(const float* a, const uint8_t* rows, size_t row_bytes, int64_t r0, int64_t r1,
                          int64_t i, float* y) {
  __m256 acc[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) acc[c] = _mm256_loadu_ps(y + i + 8 * c);
  const uint8_t* p = rows + static_cast<size_t>(r0) * row_bytes + i * L::kBytes;
  for (int64_t r = r0; r < r1; ++r, p += row_bytes) {
    fetch_row_ahead(p, row_bytes, 8 * C * L::kBytes);
    const __m256 w = _mm256_broadcast_ss(a + r);
    for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_ps(w, L::full(p + 8 * c * L::kBytes), acc[c]);
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(y + i + 8 * c, acc[c]);
}

// Outputs [0, full) (a multiple of 8) of one head, rows [r0, r1): 64 at a time in eight registers,
// then 32 in four, then 8.
template <class L>
inline void row_sum_outputs(const float* a, const uint8_t* rows, size_t row_bytes, int64_t r0, int64_t r1,
                            int64_t full, float* y) {
  int64_t i = 0;
  for (; i + 64 <= full; i += 64) row_sum_block<L, 8>(a, rows, row_bytes, r0, r1, i, y);
  for (; i + 32 <= full; i += 32) row_sum_block<L, 4>(a, rows, row_bytes, r0, r1, i, y);
  for (; i < full; i += 8) row_sum_block<L, 1>(a, rows, row_bytes, r0, r1, i, y);
}

// RowSumFn over F32 / F16 rows: 64 outputs at a time held in eight registers while every row is
// added, then 32 in four, then 8 (row_sum_block over all the rows; each output's order is the row
// order, whatever the block it falls in). Each pass reads every row once: a 128-value head (Llama 2
// 7B, whose cache rows of 4096 values put a head's rows 8 KiB apart) takes two passes instead of
// four.
template <class L>
void row_sum(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows, int64_t n,
             float* y) {
  const int64_t full = n - n % 8;
  std::memset(y, 0, static_cast<size_t>(full) * sizeof(float));  // row_sum_block adds into y
  row_sum_outputs<L>(a, rows, row_bytes, 0, n_rows, full, y);
  const int64_t i = full;
  if (i < n) {  // the last n % 8 outputs through a zero-padded copy of each row's tail
    const int64_t left = n - i;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t r = 0; r < n_rows; ++r) {
      alignas(32) uint8_t tail[8 * 4] = {0};
      std::memcpy(tail, rows + static_cast<size_t>(r) * row_bytes + i * L::kBytes,
                  static_cast<size_t>(left) * L::kBytes);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(a[r]), L::full(tail), acc);
    }
    alignas(32) float out[8];
    _mm256_store_ps(out, acc);
    std::memcpy(y + i, out, static_cast<size_t>(left) * sizeof(float));
  }
}

// As row_sum_block<L, 4>, for two heads at once: each 8 values of a row converted once for both.
template <class L>
inline void row_sum_block_pair(const float* a0, const float* a1, const uint8_t* rows, size_t row_bytes,
                               int64_t r0, int64_t r1, int64_t i, float* y0, float* y1) {
  __m256 acc0[4], acc1[4];
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    acc0[c] = _mm256_loadu_ps(y0 + i + 8 * c);
    acc1[c] = _mm256_loadu_ps(y1 + i + 8 * c);
  }
  const uint8_t* p = rows + static_cast<size_t>(r0) * row_bytes + i * L::kBytes;
  for (int64_t r = r0; r < r1; ++r, p += row_bytes) {
    fetch_row_ahead(p, row_bytes, 32 * L::kBytes);
    const __m256 w0 = _mm256_broadcast_ss(a0 + r), w1 = _mm256_broadcast_ss(a1 + r);
    for (int c = 0; c < 4; ++c) {
      const __m256 v = L::full(p + 8 * c * L::kBytes);
      acc0[c] = _mm256_fmadd_ps(w0, v, acc0[c]);
      acc1[c] = _mm256_fmadd_ps(w1, v, acc1[c]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    _mm256_storeu_ps(y0 + i + 8 * c, acc0[c]);
    _mm256_storeu_ps(y1 + i + 8 * c, acc1[c]);
  }
}

// Rows per block: one block of a head's values (32 rows of 64-128 F16 values) stays in L1 while
// each head of the group, and each 64 outputs of a head, passes over it.
constexpr int64_t kRowSumBlock = 32;

// RowSumHeadsFn: blocks of rows; within a block each pair of heads in turn when the outputs come in
// 32s, else each head, 64 outputs at a time in eight registers (then 32, then 8); row_sum for the
// last n % 8 outputs. Measured in a one-thread
// microbenchmark on the AVX2 EPYC, per layer at depth 4096 (F16, both versions at -O3): 8 heads x
// 64 values (TinyLlama's GQA group) 370 -> 288-294 us against 8 heads per pass over all rows with
// one register per head; tiles of 4 heads x 16 values took 490-500 (each row's values loaded once
// for 4 heads, yet slower: four weight streams per row); 1 head x 128 values with rows 8 KiB apart
// (Llama 2 7B, no GQA) 3.8-3.9 -> 3.0-3.2 ms against row_sum's pass over all rows. Blocks of 64
// rows were level on the first shape and slower on the second. Heads two at a time, 32 outputs
// each (row_sum_block_pair: each value converted once for both heads), where the outputs come in
// 32s: 8 x 64, one layer at depth 4096, rows in cache, 0.27 -> 0.21-0.22 ms (4 alternating runs);
// with the rows coming from memory (22 layers) 9.3-9.5 -> 8.5-9.1 ms. Converting a block to floats
// once for all the heads (a scratch in L1) was slower than converting per head (0.36-0.40 against
// 0.30-0.34 ms in the same runs).
template <class L>
void row_sum_heads(const float* a, size_t a_stride, int n_heads, const uint8_t* rows, size_t row_bytes,
                   int64_t n_rows, int64_t n, float* y, size_t y_stride) {
  const int64_t full = n - n % 8;
  if (full > 0) {
    for (int h = 0; h < n_heads; ++h) std::memset(y + h * y_stride, 0, static_cast<size_t>(full) * sizeof(float));
    for (int64_t r0 = 0; r0 < n_rows;) {
      const int64_t r1 = n_rows - r0 > kRowSumBlock ? r0 + kRowSumBlock : n_rows;  // no std::min here (check_isa_symbols.sh)
      int h = 0;
      if (full % 32 == 0) {
        for (; h + 2 <= n_heads; h += 2)
          for (int64_t i = 0; i < full; i += 32)
            row_sum_block_pair<L>(a + h * a_stride, a + (h + 1) * a_stride, rows, row_bytes, r0, r1, i,
                                  y + h * y_stride, y + (h + 1) * y_stride);
      }
      for (; h < n_heads; ++h) row_sum_outputs<L>(a + h * a_stride, rows, row_bytes, r0, r1, full, y + h * y_stride);
      r0 = r1;
    }
  }
  if (full < n)
    for (int h = 0; h < n_heads; ++h)
      row_sum<L>(a + h * a_stride, rows + full * L::kBytes, row_bytes, n_rows, n - full, y + h * y_stride + full);
}

}  // namespace

void gemm_f16(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
              int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  gemm<LoadF16>(w, row_bytes, n_rows, x, x_stride, n_tokens, n_cols, y, y_stride);
}

void register_quant_kernels(KernelTable& table);       // quant_kernels.cpp
void register_activation_kernels(KernelTable& table);  // activation_kernels.cpp
void register_k_scale_search(KernelTable& table);      // k_scale_search.cpp
void register_f16_rows(KernelTable& table);            // f16_rows.cpp

void register_kernels(KernelTable& table) {
  table.weights[static_cast<uint32_t>(DType::F32)].gemv = gemv<LoadF32>;
  table.weights[static_cast<uint32_t>(DType::F16)].gemv = gemv<LoadF16>;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemv = gemv<LoadBF16>;
  table.weights[static_cast<uint32_t>(DType::F32)].gemm = gemm<LoadF32>;
  table.weights[static_cast<uint32_t>(DType::F16)].gemm = gemm_f16;
  table.weights[static_cast<uint32_t>(DType::BF16)].gemm = gemm<LoadBF16>;
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
  table.row_sum[static_cast<uint32_t>(DType::F32)] = row_sum<LoadF32>;
  table.row_sum[static_cast<uint32_t>(DType::F16)] = row_sum<LoadF16>;
  table.row_sum_heads[static_cast<uint32_t>(DType::F32)] = row_sum_heads<LoadF32>;
  table.row_sum_heads[static_cast<uint32_t>(DType::F16)] = row_sum_heads<LoadF16>;
  register_quant_kernels(table);
  register_activation_kernels(table);
  register_k_scale_search(table);
  register_f16_rows(table);
}

}  // namespace avx2
}  // namespace loam
