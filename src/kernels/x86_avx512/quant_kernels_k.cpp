// AVX-512 VNNI integer-dot kernels for the K types (Q4_K, Q5_K, Q6_K) against Q8_K activations.
//
// Per row and super-block, 64 codes fill one 512-bit register as two 32-element sub-blocks (Q4_K,
// Q5_K: low nibbles of a 64-byte load hold sub-blocks 4c and 4c + 2, high nibbles 4c + 1 and
// 4c + 3) or as 64 consecutive elements (Q6_K: four 16-element groups); vpdpbusd adds four code x
// activation products per int32 lane (at most 4 * 63 * 128 < 2^15) and vpdpwssd multiplies each
// lane by its sub-block scale and accumulates (quant_common.h: exact for lanes below 2^15). The
// min / centring terms use the activation block sums (bsums) instead of touching every code:
//   Q4_K, Q5_K: sum_j m_j * (bsums[2j] + bsums[2j+1]), scaled by dmin
//   Q6_K:       code - 32 gives -32 * sum_g scales[g] * bsums[g]
// All integer sums are exact in int32 (largest: Q6_K, 16 * 128 * 16 * 63 * 127 < 2^31).
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/quant_common.h"
#include "kernels/x86_avx512/simd.h"
#include "quant/blocks.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

// The packed 6-bit scales and mins of a Q4_K / Q5_K block (quant/k_scales.h layout) as
// [scales 0..7 | mins 0..7] bytes: with u0..u2 the three packed words, scales 0..3 = u0 & 0x3F..,
// scales 4..7 = (u2 & 0x0F..) | ((u0 >> 2) & 0x30..), mins 0..3 = u1 & 0x3F.., mins 4..7 =
// ((u2 >> 4) & 0x0F..) | ((u1 >> 2) & 0x30..).
inline __m128i unpack_scales_mins(const uint8_t* packed) {
  const uint32_t u0 = load_u32(packed), u1 = load_u32(packed + 4), u2 = load_u32(packed + 8);
  const uint32_t sc03 = u0 & 0x3F3F3F3Fu, m03 = u1 & 0x3F3F3F3Fu;
  const uint32_t sc47 = (u2 & 0x0F0F0F0Fu) | ((u0 >> 2) & 0x30303030u);
  const uint32_t m47 = ((u2 >> 4) & 0x0F0F0F0Fu) | ((u1 >> 2) & 0x30303030u);
  return _mm_setr_epi32(static_cast<int>(sc03), static_cast<int>(sc47), static_cast<int>(m03),
                        static_cast<int>(m47));
}

// Pair sums of the Q8_K block sums: int16 lane j = bsums[2j] + bsums[2j+1], the activation sum of
// sub-block j of 32 elements (at most 32 * 127 in magnitude).
inline __m128i bsum_pairs(const BlockQ8_K& xb) {
  return _mm_hadd_epi16(load_128(xb.bsums), load_128(xb.bsums + 8));
}

// The activations of a super-block in the sub-block order of q4_k_codes: act[2c + s] =
// [a(4c + s) | a(4c + s + 2)], a(j) = the 32 activations of sub-block j. Built once per
// super-block for all rows.
inline void k_activations(const BlockQ8_K& xb, __m512i act[4]) {
  for (int c = 0; c < 2; ++c)
    for (int s = 0; s < 2; ++s)
      act[2 * c + s] = join_256(load_256(xb.qs + 128 * c + 32 * s), load_256(xb.qs + 128 * c + 32 * s + 64));
}

// int32 lanes summing to sum_j m_j * sum(a over sub-block j).
inline __m128i mins_term(__m128i sc_m, __m128i pairs) {
  return _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sc_m, sc_m)), pairs);
}

// int32 lanes of one Q4_K / Q5_K super-block of a row: lane l (0..7) and lane l + 8 together hold
// sum_j sc_j * sum(code * a) over elements 4(l % 8)..4(l % 8)+3 of every sub-block j (low half:
// sub-blocks 0, 1, 4, 5; high half: 2, 3, 6, 7). kFive adds the fifth bits of qh.
template <bool kFive>
inline __m512i k_codes_dot(const uint8_t* qs, const uint8_t* qh, __m128i sc_m, const __m512i act[4]) {
  const __m512i sc = _mm512_cvtepu8_epi32(sc_m);  // scales 0..7, then mins (never picked)
  const __m512i mask = _mm512_set1_epi8(0x0F), x10 = _mm512_set1_epi8(0x10);
  const __m512i qh2 = kFive ? _mm512_broadcast_i64x4(load_256(qh)) : _mm512_setzero_si512();
  __m512i acc = _mm512_setzero_si512();
  for (int c = 0; c < 2; ++c) {
    const __m512i q = load_512(qs + 64 * c);
    for (int s = 0; s < 2; ++s) {
      const int j = 4 * c + s;  // sub-blocks j (low half) and j + 2 (high half)
      __m512i codes = _mm512_and_si512(s == 0 ? q : _mm512_srli_epi16(q, 4), mask);
      if (kFive) {
        // element l of sub-block j has its fifth bit in bit j of qh[l]
        const __m512i bit = join_256(_mm256_set1_epi8(static_cast<char>(1 << j)),
                                     _mm256_set1_epi8(static_cast<char>(1 << (j + 2))));
        codes = _mm512_mask_add_epi8(codes, _mm512_test_epi8_mask(qh2, bit), codes, x10);
      }
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, act[2 * c + s]);
      acc = _mm512_dpwssd_epi32(acc, dot, _mm512_permutexvar_epi32(pair_index(j, j + 2), sc));
    }
  }
  return acc;
}

// y[r] = sum over super-blocks of d * dx * scaled - dmin * dx * mins, as dot_q4_K_q8_K: two
// running sums per row, one fused multiply-add each per super-block, subtracted at the end.
void gemv_q4_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  constexpr size_t kBlockBytes = sizeof(BlockQ4_K);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  const int64_t n_blocks = n_cols / kQKK;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m256 acc = _mm256_setzero_ps();      // lane r: row r's running sum
    __m256 acc_min = _mm256_setzero_ps();  // lane r: row r's running mins term
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * kBlockBytes;
      prefetch_next_group(next_group, off, kBlockBytes);
      const __m128i pairs = bsum_pairs(xb[b]);
      __m512i act[4];
      k_activations(xb[b], act);
      __m128i scaled[kRowLanes], mins[kRowLanes];  // [row] int32 partial sums
      for (int r = 0; r < kRowLanes; ++r) {
        const uint8_t* blk = rows[r] + off;
        const __m128i sc_m = unpack_scales_mins(blk + offsetof(BlockQ4_K, scales));
        scaled[r] = fold_128(fold_256(k_codes_dot<false>(blk + offsetof(BlockQ4_K, qs), nullptr, sc_m, act)));
        mins[r] = mins_term(sc_m, pairs);
      }
      const __m256 dx = _mm256_set1_ps(xb[b].d);
      const __m256 d = _mm256_mul_ps(gather_fp16(rows, off + offsetof(BlockQ4_K, d)), dx);
      const __m256 dmin = _mm256_mul_ps(gather_fp16(rows, off + offsetof(BlockQ4_K, dmin)), dx);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(row_sums(scaled)), d, acc);
      acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(row_sums(mins)), dmin, acc_min);
    }
    store_group(_mm256_sub_ps(acc, acc_min), r0, n_rows, y);
  }
}

// As dot_q5_K_q8_K: per row, 8 float lanes, lane l += (dx * d) * lane_sum_l (fused) per
// super-block, where lane_sum_l = sum_j sc_j * sum(code * a) over elements 4l..4l+3 of each
// sub-block j; the mins term -(dx * dmin) * mins runs in row lanes as its own sum (fused);
// y = the lanes summed in the scalar order + that sum. Two rows per 512-bit register.
void gemv_q5_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  constexpr size_t kBlockBytes = sizeof(BlockQ5_K);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  const int64_t n_blocks = n_cols / kQKK;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m512 acc[kRowLanes / 2];  // [row pair] [row 2p lanes | row 2p+1 lanes]
    for (int p = 0; p < kRowLanes / 2; ++p) acc[p] = _mm512_setzero_ps();
    __m256 acc_min = _mm256_setzero_ps();  // lane r: row r's running mins term
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * kBlockBytes;
      prefetch_next_group(next_group, off, kBlockBytes);
      const __m128i pairs = bsum_pairs(xb[b]);
      __m512i act[4];
      k_activations(xb[b], act);
      const __m256 dx = _mm256_set1_ps(xb[b].d);
      const __m256 d = _mm256_mul_ps(dx, gather_fp16(rows, off + offsetof(BlockQ5_K, d)));
      const __m256 dmin = _mm256_mul_ps(dx, gather_fp16(rows, off + offsetof(BlockQ5_K, dmin)));
      const __m512 d2 = _mm512_castps256_ps512(d);  // only lanes 0..7 are ever picked
      __m256i lanes[kRowLanes];  // [row] the scalar kernel's 8 lane sums
      __m128i mins[kRowLanes];
      for (int r = 0; r < kRowLanes; ++r) {
        const uint8_t* blk = rows[r] + off;
        const __m128i sc_m = unpack_scales_mins(blk + offsetof(BlockQ5_K, scales));
        lanes[r] = fold_256(k_codes_dot<true>(blk + offsetof(BlockQ5_K, qs), blk + offsetof(BlockQ5_K, qh), sc_m, act));
        mins[r] = mins_term(sc_m, pairs);
      }
      for (int p = 0; p < kRowLanes / 2; ++p) {
        const __m512 s = _mm512_cvtepi32_ps(join_256(lanes[2 * p], lanes[2 * p + 1]));
        acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_index(2 * p, 2 * p + 1), d2), s, acc[p]);
      }
      // fnmadd(p, m, acc) rounds -(p * m) + acc once: the scalar fma(-(dx * dmin), m, acc).
      acc_min = _mm256_fnmadd_ps(dmin, _mm256_cvtepi32_ps(row_sums(mins)), acc_min);
    }
    alignas(32) float min_terms[kRowLanes];
    _mm256_store_ps(min_terms, acc_min);
    store_lane_rows(acc, min_terms, r0, n_rows, y);
  }
}

// One Q6_K super-block of a row: int32 lanes summing to sum_g scales[g] * sum((code - 32) * a)
// over the 16 groups g of 16 elements. Per 128-element half h, the 64-byte load of ql holds the
// low 4 bits of elements 128h + 0..63 (low nibbles) and 128h + 64..127 (high nibbles), in order;
// qh[32h + l] bits 2k..2k+1 are the high bits of element 128h + 32k + l.
inline __m128i q6_k_row(const uint8_t* blk, const BlockQ8_K& xb) {
  const __m256i sc16 = _mm256_cvtepi8_epi16(load_128(blk + offsetof(BlockQ6_K, scales)));
  const __m256i centre = _mm256_madd_epi16(sc16, load_256(xb.bsums));
  // The signed scales in the low words, zero high words (vpdpwssd's multiplier).
  const __m512i sc = _mm512_cvtepu16_epi32(sc16);
  // int32 lane i -> group i / 4 of a 64-element run
  const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i mask = _mm512_set1_epi8(0x0F), hi2 = _mm512_set1_epi8(0x30);
  // 16-bit shift counts: high bits of k = 0 | k = 1 up to bits 4..5, and of k = 2 | k = 3
  const __m512i shl = join_256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
  const __m512i shr = join_256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
  __m512i acc = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    const __m512i ql = load_512(blk + offsetof(BlockQ6_K, ql) + 64 * h);
    const __m512i qh = _mm512_broadcast_i64x4(load_256(blk + offsetof(BlockQ6_K, qh) + 32 * h));
    const __m512i q_lo = _mm512_or_si512(_mm512_and_si512(ql, mask), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), hi2));
    const __m512i q_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), mask),
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, shr), hi2));
    const __m512i dot_lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q_lo, load_512(xb.qs + 128 * h));
    const __m512i dot_hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q_hi, load_512(xb.qs + 128 * h + 64));
    const __m512i g_lo = _mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h));
    const __m512i g_hi = _mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 4));
    acc = _mm512_dpwssd_epi32(acc, dot_lo, _mm512_permutexvar_epi32(g_lo, sc));
    acc = _mm512_dpwssd_epi32(acc, dot_hi, _mm512_permutexvar_epi32(g_hi, sc));
  }
  return _mm_sub_epi32(fold_128(fold_256(acc)), fold_128(_mm256_slli_epi32(centre, 5)));
}

// y[r] = sum over super-blocks of d * dx * sum_g scales[g] * sum((code - 32) * a), one fused
// multiply-add per super-block as dot_q6_K_q8_K.
void gemv_q6_K(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  constexpr size_t kBlockBytes = sizeof(BlockQ6_K);
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  const int64_t n_blocks = n_cols / kQKK;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m256 acc = _mm256_setzero_ps();  // lane r: row r's running sum
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * kBlockBytes;
      prefetch_next_group(next_group, off, kBlockBytes);
      __m128i v[kRowLanes];  // [row] int32 partial sums
      for (int r = 0; r < kRowLanes; ++r) v[r] = q6_k_row(rows[r] + off, xb[b]);
      const __m256 d = _mm256_mul_ps(gather_fp16(rows, off + offsetof(BlockQ6_K, d)), _mm256_set1_ps(xb[b].d));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(row_sums(v)), d, acc);
    }
    store_group(acc, r0, n_rows, y);
  }
}

}  // namespace

void register_quant_k_kernels(KernelTable& table) {
  set_gemv(table, DType::Q4_K, gemv_q4_K);
  set_gemv(table, DType::Q5_K, gemv_q5_K);
  set_gemv(table, DType::Q6_K, gemv_q6_K);
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
