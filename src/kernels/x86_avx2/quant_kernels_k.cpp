// AVX2 integer-dot kernels for the K types (Q4_K, Q5_K, Q6_K) against Q8_K activations.
//
// Per 32 codes: maddubs of the unsigned codes with the activation bytes gives int16 pair sums
// (at most 2 * 63 * 127, no saturation), and madd with the sub-block scales in the int16 lanes
// both applies the scales and widens to int32. The min / centring terms use the activation block
// sums (bsums) instead of touching every code:
//   Q4_K, Q5_K: sum_j m_j * (bsums[2j] + bsums[2j+1]), scaled by dmin
//   Q6_K:       code - 32 gives -32 * sum_g scales[g] * bsums[g]
// All integer sums are exact in int32 (largest: Q6_K, 16 * 128 * 16 * 63 * 127 < 2^31).
// See quant_common.h for the 8-rows-in-lanes scheme.
#include <immintrin.h>

#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx2/quant_common.h"
#include "quant/blocks.h"

namespace loam {
namespace avx2 {
namespace {

// A compile-time index for the unrolled loops (shift counts and shuffle masks need constants).
template <int N>
struct Index {
  static constexpr int value = N;
};

inline __m256i low_nibbles(__m256i q) { return _mm256_and_si256(q, _mm256_set1_epi8(0x0F)); }
inline __m256i high_nibbles(__m256i q) {
  return _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0F));
}

// Word j of `words` (the low 8 int16 lanes) replicated into every int16 lane of both halves.
template <int J>
inline __m256i replicate_word(__m256i words) {
  const __m256i pick = _mm256_set1_epi16(static_cast<short>((2 * J) | ((2 * J + 1) << 8)));
  return _mm256_shuffle_epi8(words, pick);
}

// Pair sums of the Q8_K block sums: lane j = bsums[2j] + bsums[2j+1], the activation sum of
// sub-block j of 32 elements (at most 32 * 127 in magnitude).
inline __m128i bsum_pairs(const BlockQ8_K& xb) {
  return _mm_hadd_epi16(load_128(xb.bsums), load_128(xb.bsums + 8));
}

// The activations of a super-block rearranged for q4_k_row: for 64-element chunk c,
// act[2c] = [a(2c)[0..15] | a(2c+1)[0..15]] and act[2c+1] = [a(2c)[16..31] | a(2c+1)[16..31]],
// a(j) = the 32 activations of sub-block j. Built once per super-block for all 8 rows.
inline void q4_k_activations(const BlockQ8_K& xb, __m256i act[8]) {
  for (int c = 0; c < 4; ++c) {
    const int8_t* a = xb.qs + 64 * c;
    act[2 * c] = _mm256_inserti128_si256(_mm256_castsi128_si256(load_128(a)), load_128(a + 32), 1);
    act[2 * c + 1] = _mm256_inserti128_si256(_mm256_castsi128_si256(load_128(a + 16)), load_128(a + 48), 1);
  }
}

// The packed 6-bit scales and mins of a Q4_K / Q5_K block (quant/k_scales.h layout) as
// [scales 0..7 | mins 0..7] bytes, unpacked in one vector: with u0..u2 the three packed words,
// scales 0..3 = u0 & 0x3F.., scales 4..7 = (u2 & 0x0F..) | ((u0 >> 2) & 0x30..), mins 0..3 =
// u1 & 0x3F.., mins 4..7 = ((u2 >> 4) & 0x0F..) | ((u1 >> 2) & 0x30..). The 16-byte load stays
// inside the block (codes follow).
inline __m128i unpack_scales_mins(const uint8_t* packed) {
  const __m128i u = load_128(packed);
  const __m128i low = _mm_srlv_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4));
  const __m128i high = _mm_srli_epi32(_mm_shuffle_epi32(u, _MM_SHUFFLE(1, 1, 0, 0)), 2);
  const __m128i sc_m = _mm_or_si128(
      _mm_and_si128(low, _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F)),
      _mm_and_si128(high, _mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
  return sc_m;
}

// One Q4_K super-block of a row: *scaled gets int32 lanes summing to
// sum_j sc_j * sum(code * a) over sub-block j, *mins lanes summing to sum_j m_j * sum(a_j).
// Each 16 code bytes are broadcast to both halves and the high half shifted down a nibble, so one
// register holds elements 0..15 of sub-blocks 2c and 2c+1: their products add in int16 (at most
// 4 * 15 * 128) and one madd per 64 elements applies both sub-block scales.
inline void q4_k_row(const uint8_t* blk, const __m256i act[8], __m128i pairs, __m256i* scaled,
                     __m128i* mins) {
  const uint8_t* qs = blk + offsetof(BlockQ4_K, qs);
  const __m128i sc_m = unpack_scales_mins(blk + offsetof(BlockQ4_K, scales));
  *mins = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sc_m, sc_m)), pairs);
  // [scales as int16 | the same]
  const __m256i scales = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(sc_m, sc_m));
  const __m256i nibble_shift = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  auto chunk = [&](auto c_tag) {
    constexpr int c = decltype(c_tag)::value;
    // [sub-block 2c codes l | sub-block 2c+1 codes l] for l in 0..15 (n0) and 16..31 (n1)
    const __m256i n0 = _mm256_and_si256(_mm256_srlv_epi32(_mm256_broadcastsi128_si256(load_128(qs + 32 * c)), nibble_shift), mask);
    const __m256i n1 = _mm256_and_si256(_mm256_srlv_epi32(_mm256_broadcastsi128_si256(load_128(qs + 32 * c + 16)), nibble_shift), mask);
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(n0, act[2 * c]), _mm256_maddubs_epi16(n1, act[2 * c + 1]));
    // [scale of 2c in every word | scale of 2c+1 in every word]
    const __m256i pick = _mm256_setr_epi8(4 * c, 4 * c + 1, 4 * c, 4 * c + 1, 4 * c, 4 * c + 1, 4 * c, 4 * c + 1,
                                          4 * c, 4 * c + 1, 4 * c, 4 * c + 1, 4 * c, 4 * c + 1, 4 * c, 4 * c + 1,
                                          4 * c + 2, 4 * c + 3, 4 * c + 2, 4 * c + 3, 4 * c + 2, 4 * c + 3, 4 * c + 2, 4 * c + 3,
                                          4 * c + 2, 4 * c + 3, 4 * c + 2, 4 * c + 3, 4 * c + 2, 4 * c + 3, 4 * c + 2, 4 * c + 3);
    const __m256i t = _mm256_madd_epi16(p, _mm256_shuffle_epi8(scales, pick));
    if (c % 2 == 0) acc0 = _mm256_add_epi32(acc0, t); else acc1 = _mm256_add_epi32(acc1, t);
  };
  chunk(Index<0>());
  chunk(Index<1>());
  chunk(Index<2>());
  chunk(Index<3>());
  *scaled = _mm256_add_epi32(acc0, acc1);
}

// y[r] = sum over super-blocks of d * dx * scaled - dmin * dx * mins (the scalar kernel's terms).
void gemv_q4_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  constexpr size_t kBlockBytes = sizeof(BlockQ4_K);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  const int64_t n_blocks = n_cols / kQKK;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m256 acc = _mm256_setzero_ps();  // lane r: row r's running sum
    __m256 acc_min = _mm256_setzero_ps();  // lane r: row r's running mins term
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * kBlockBytes;
      prefetch_next_group(next_group, off, kBlockBytes);
      const __m128i pairs = bsum_pairs(xb[b]);
      __m256i act[8];
      q4_k_activations(xb[b], act);
      __m256i scaled[kRowLanes];  // [row] int32 partial sums
      __m128i mins[kRowLanes];
      for (int r = 0; r < kRowLanes; ++r) q4_k_row(rows[r] + off, act, pairs, &scaled[r], &mins[r]);
      __m256 d, dmin;
      gather_fp16_pair(rows, off, &d, &dmin);  // d and dmin lead the block
      const __m256 dx = _mm256_set1_ps(xb[b].d);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(transpose_sum8(scaled)), _mm256_mul_ps(d, dx), acc);
      acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(transpose_sum8(mins)), _mm256_mul_ps(dmin, dx), acc_min);
    }
    store_group(_mm256_sub_ps(acc, acc_min), r0, n_rows, y);
  }
}

// One Q5_K super-block of a row: the int32 lanes of *lanes add up to sum_j sc_j * sum(code * a)
// over the 32-element sub-blocks j; *mins as for Q4_K. One 32-byte load of codes holds sub-block 2c
// (low nibbles) and 2c + 1 (high nibbles); qh bit j of byte l is element l's fifth bit in
// sub-block j. int16 pair sums stay below 2 * 31 * 128.
inline void q5_k_row(const uint8_t* blk, const int8_t* a, __m128i pairs, __m256i* lanes,
                     __m128i* mins) {
  const __m128i sc_m = unpack_scales_mins(blk + offsetof(BlockQ5_K, scales));
  *mins = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sc_m, sc_m)), pairs);
  // [scales 0..7 as int16 | the same]
  const __m256i scales = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(sc_m, sc_m));
  const __m256i qh = load_256(blk + offsetof(BlockQ5_K, qh));
  const __m256i mask = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  const uint8_t* qs = blk + offsetof(BlockQ5_K, qs);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  // Bit J of every byte of qh moved to bit 4 (16-bit shifts: what crosses a byte boundary lands
  // in bits the mask drops).
  auto fifth = [&](auto j_tag) {
    constexpr int j = decltype(j_tag)::value;
    const __m256i moved = j <= 4 ? _mm256_slli_epi16(qh, 4 - j) : _mm256_srli_epi16(qh, j - 4);
    return _mm256_and_si256(moved, bit4);
  };
  auto chunk = [&](auto c_tag) {
    constexpr int c = decltype(c_tag)::value;
    const __m256i q = load_256(qs + 32 * c);
    const __m256i c0 = _mm256_or_si256(_mm256_and_si256(q, mask), fifth(Index<2 * c>()));
    const __m256i c1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), mask), fifth(Index<2 * c + 1>()));
    const __m256i p0 = _mm256_maddubs_epi16(c0, load_256(a + 64 * c));
    const __m256i p1 = _mm256_maddubs_epi16(c1, load_256(a + 64 * c + 32));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, replicate_word<2 * c>(scales)));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, replicate_word<2 * c + 1>(scales)));
  };
  chunk(Index<0>());
  chunk(Index<1>());
  chunk(Index<2>());
  chunk(Index<3>());
  *lanes = _mm256_add_epi32(acc0, acc1);
}

// The AVX2 Q5_K order (that of the interleaved kernels, interleaved_kernels.cpp): per row and
// super-block, the exact integer sum of sc_j * code * a over the 256 elements, one fused
// multiply-add by dx * d; the mins term -(dx * dmin) * mins as its own sum; y = the two sums added.
// Rows run in vector lanes and never mix.
void gemv_q5_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  const int64_t n_blocks = n_cols / kQKK;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m256 acc = _mm256_setzero_ps();      // lane r: row r's running sum of the scaled codes
    __m256 acc_min = _mm256_setzero_ps();  // lane r: row r's running mins term
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * sizeof(BlockQ5_K);
      prefetch_next_group(next_group, off, sizeof(BlockQ5_K));
      const __m128i pairs = bsum_pairs(xb[b]);
      __m256 d, dmin;
      gather_fp16_pair(rows, off, &d, &dmin);  // d and dmin lead the block
      const __m256 dx = _mm256_set1_ps(xb[b].d);
      __m256i lanes[kRowLanes];  // [row] int32 lanes summing to the row's integer total
      __m128i mins[kRowLanes];
      for (int r = 0; r < kRowLanes; ++r) q5_k_row(rows[r] + off, xb[b].qs, pairs, &lanes[r], &mins[r]);
      acc = _mm256_fmadd_ps(_mm256_mul_ps(dx, d), _mm256_cvtepi32_ps(transpose_sum8(lanes)), acc);
      // fnmadd(p, m, acc) rounds -(p * m) + acc once: fma(-(dx * dmin), m, acc).
      acc_min = _mm256_fnmadd_ps(_mm256_mul_ps(dx, dmin), _mm256_cvtepi32_ps(transpose_sum8(mins)), acc_min);
    }
    store_group(_mm256_add_ps(acc, acc_min), r0, n_rows, y);
  }
}

// One Q6_K super-block of a row against NT tokens' activation blocks xb[t]: out[t] gets int32
// lanes summing to sum_g scales[g] * sum((code - 32) * a_t) over the 16 groups g of 16 elements.
// The codes and scales are unpacked once for all NT tokens; each token's integer sums are exact,
// so they are the same whatever NT is.
template <int NT>
inline void q6_k_row(const uint8_t* blk, const BlockQ8_K* const xb[NT], __m256i out[NT]) {
  const __m128i sc8 = load_128(blk + offsetof(BlockQ6_K, scales));
  // Even-numbered scales in the low half, odd in the high half: chunk g of 32 elements (groups 2g
  // and 2g+1) then needs one in-lane shuffle to get [scales[2g] x 8 | scales[2g+1] x 8].
  const __m256i split = _mm256_cvtepi8_epi16(
      _mm_shuffle_epi8(sc8, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)));
  __m256i acc0[NT], acc1[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_si256();
  const __m256i hi2 = _mm256_set1_epi8(0x30);
  auto half = [&](auto h_tag) {
    constexpr int h = decltype(h_tag)::value;
    const uint8_t* ql = blk + offsetof(BlockQ6_K, ql) + 64 * h;
    const __m256i ql0 = load_256(ql), ql1 = load_256(ql + 32);
    const __m256i qh = load_256(blk + offsetof(BlockQ6_K, qh) + 32 * h);
    // Element 128h + 32k + l: low 4 bits from ql[k & 1] (low nibble for k < 2), high 2 bits from
    // bits 2k..2k+1 of qh[l], moved to bits 4..5.
    const __m256i q0 = _mm256_or_si256(low_nibbles(ql0), _mm256_and_si256(_mm256_slli_epi16(qh, 4), hi2));
    const __m256i q1 = _mm256_or_si256(low_nibbles(ql1), _mm256_and_si256(_mm256_slli_epi16(qh, 2), hi2));
    const __m256i q2 = _mm256_or_si256(high_nibbles(ql0), _mm256_and_si256(qh, hi2));
    const __m256i q3 = _mm256_or_si256(high_nibbles(ql1), _mm256_and_si256(_mm256_srli_epi16(qh, 2), hi2));
    for (int t = 0; t < NT; ++t) {
      const int8_t* a = xb[t]->qs + 128 * h;
      const __m256i p0 = _mm256_maddubs_epi16(q0, load_256(a));
      const __m256i p1 = _mm256_maddubs_epi16(q1, load_256(a + 32));
      const __m256i p2 = _mm256_maddubs_epi16(q2, load_256(a + 64));
      const __m256i p3 = _mm256_maddubs_epi16(q3, load_256(a + 96));
      acc0[t] = _mm256_add_epi32(acc0[t], _mm256_madd_epi16(p0, replicate_word<4 * h + 0>(split)));
      acc1[t] = _mm256_add_epi32(acc1[t], _mm256_madd_epi16(p1, replicate_word<4 * h + 1>(split)));
      acc0[t] = _mm256_add_epi32(acc0[t], _mm256_madd_epi16(p2, replicate_word<4 * h + 2>(split)));
      acc1[t] = _mm256_add_epi32(acc1[t], _mm256_madd_epi16(p3, replicate_word<4 * h + 3>(split)));
    }
  };
  half(Index<0>());
  half(Index<1>());
  const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
  for (int t = 0; t < NT; ++t) {
    const __m256i centre = _mm256_madd_epi16(sc16, load_256(xb[t]->bsums));
    out[t] = _mm256_sub_epi32(_mm256_add_epi32(acc0[t], acc1[t]), _mm256_slli_epi32(centre, 5));
  }
}

// y_t[r] = sum over super-blocks of d * dx_t * sum_g scales[g] * sum((code - 32) * a_t), for NT
// tokens (activations x + t * x_stride, results y + t * y_stride). Per token the integer sums and
// the float operations are the same for every NT: gemv (NT = 1) and gemm give the same bits.
template <int NT>
void q6_K_tokens(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                 size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQKK;
  const BlockQ8_K* xt[NT];
  for (int t = 0; t < NT; ++t) xt[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m256 acc[NT];  // [token] lane r: row r's running sum
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * sizeof(BlockQ6_K);
      prefetch_next_group(next_group, off, sizeof(BlockQ6_K));
      const BlockQ8_K* xb[NT];
      for (int t = 0; t < NT; ++t) xb[t] = xt[t] + b;
      __m256i v[kRowLanes][NT];  // [row][token] int32 partial sums
      for (int r = 0; r < kRowLanes; ++r) q6_k_row<NT>(rows[r] + off, xb, v[r]);
      const __m256 d = gather_fp16(rows, off + offsetof(BlockQ6_K, d));
      for (int t = 0; t < NT; ++t) {
        const __m256i vt[kRowLanes] = {v[0][t], v[1][t], v[2][t], v[3][t], v[4][t], v[5][t], v[6][t], v[7][t]};
        const __m256 dx = _mm256_set1_ps(xb[t]->d);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(transpose_sum8(vt)), _mm256_mul_ps(d, dx), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) store_group(acc[t], r0, n_rows, y + t * y_stride);
  }
}

void gemv_q6_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  q6_K_tokens<1>(w, row_bytes, n_rows, static_cast<const uint8_t*>(x), 0, n_cols, y, 0);
}

// Tokens in pairs (the unpacked codes, the scale words and two tokens' sums fill the 16 AVX2
// registers), then the odd one.
void gemm_q6_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
               int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  int t = 0;
  for (; t + 2 <= n_tokens; t += 2)
    q6_K_tokens<2>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  if (t < n_tokens)
    q6_K_tokens<1>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
}

void set_gemv(KernelTable& table, DType weight, GemvFn fn) {
  table.weights[static_cast<uint32_t>(weight)].gemv = fn;
}

}  // namespace

void register_quant_k_kernels(KernelTable& table) {
  set_gemv(table, DType::Q4_K, gemv_q4_K);
  set_gemv(table, DType::Q5_K, gemv_q5_K);
  set_gemv(table, DType::Q6_K, gemv_q6_K);
  table.weights[static_cast<uint32_t>(DType::Q6_K)].gemm = gemm_q6_K;
}

}  // namespace avx2
}  // namespace loam
