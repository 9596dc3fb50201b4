// AVX-512 VNNI integer-dot kernels for the 32-element quantized types (Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1) against Q8_0 activations, and the registration of every AVX-512 quantized kernel.
//
// Q8_0: the signed codes w become unsigned w + 128 (one xor), vpdpbusd adds (w + 128) * a per four
// bytes, and its accumulator starts at -128 * (sum of those four activations), computed once per
// block for all rows: the lane is exactly sum(w * a) over its four elements.
// 4- and 5-bit types: four rows' 16 code bytes fill one 512-bit register (one row per 128-bit
// lane); the low nibbles (elements 0..15) and the high nibbles (16..31) each take one vpdpbusd
// with the matching activation half broadcast to every lane. Fifth bits come from the qh words as
// byte masks (one bit per byte) and are added as 16. The centring offset (Q4_0: 8, Q5_0: 16) is
// folded into the accumulator's start, -centre * sum(a), again once per block for all rows.
// See quant_common.h for the row groups and the float order.
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/quant_common.h"
#include "kernels/x86_avx512/simd.h"
#include "quant/blocks.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

// Q8_0, in the scalar kernel's float order (dot_q8_0_q8_0): per row, eight float lanes, lane l
// taking the int32 sum of products 4l..4l+3 of each block with one fused multiply-add by
// d_w * d_x; the lanes summed in the scalar order at the end. Two rows share a 512-bit register.
void gemv_q8_0(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
               float* y) {
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  const int64_t n_blocks = n_cols / kQK;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m512 acc[kRowLanes / 2];  // [row pair] [row 2p lanes | row 2p+1 lanes]
    for (int p = 0; p < kRowLanes / 2; ++p) acc[p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * sizeof(BlockQ8_0);
      prefetch_next_group(next_group, off, sizeof(BlockQ8_0));
      const __m256i a = load_256(xb[b].qs);
      // lane l: -128 * (a[4l] + ... + a[4l+3]), the +128 of the flipped codes taken back
      const __m256i bias = _mm256_sub_epi32(
          _mm256_setzero_si256(),
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(static_cast<char>(0x80)), a));
      const __m512i a2 = _mm512_broadcast_i64x4(a);
      const __m512i bias2 = _mm512_broadcast_i64x4(bias);
      // lane r: d_w(row r) * d_x, rounded like the scalar kernel's product
      const __m256 scale = _mm256_mul_ps(gather_fp16(rows, off), _mm256_set1_ps(_cvtsh_ss(xb[b].d)));
      const __m512 scale2 = _mm512_castps256_ps512(scale);  // only lanes 0..7 are ever picked
      for (int p = 0; p < kRowLanes / 2; ++p) {
        const size_t q = off + offsetof(BlockQ8_0, qs);
        const __m512i wq = join_256(load_256(rows[2 * p] + q), load_256(rows[2 * p + 1] + q));
        const __m512i s = _mm512_dpbusd_epi32(bias2, _mm512_xor_si512(wq, flip), a2);
        const __m512 d = _mm512_permutexvar_ps(pair_index(2 * p, 2 * p + 1), scale2);
        acc[p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[p]);
      }
    }
    store_lane_rows(acc, nullptr, r0, n_rows, y);
  }
}

// Each 4- and 5-bit type: its block, whether it has fifth bits (kFive) and an offset m (kHasMin),
// the centring offset of its codes, and, for the types without m, whether the scalar kernel fuses
// its per-block update (Q4_0: sum = fma(d_w * d_x, s, sum); Q5_0: sum += d_w * d_x * s, rounded
// twice).
struct Q4_0Kernel {
  using Block = BlockQ4_0;
  static constexpr bool kFive = false, kHasMin = false, kFused = true;
  static constexpr int kCentre = 8;
};
struct Q4_1Kernel {
  using Block = BlockQ4_1;
  static constexpr bool kFive = false, kHasMin = true;
  static constexpr int kCentre = 0;
};
struct Q5_0Kernel {
  using Block = BlockQ5_0;
  static constexpr bool kFive = true, kHasMin = false, kFused = false;
  static constexpr int kCentre = 16;
};
struct Q5_1Kernel {
  using Block = BlockQ5_1;
  static constexpr bool kFive = true, kHasMin = true;
  static constexpr int kCentre = 0;
};

// The int32 lanes of 128-bit lane k of the result sum to sum((code - centre) * a) over the block
// of rows[k] (k = 0..3) at byte offset `off`. a_lo / a_hi: activations 0..15 / 16..31 in every
// 128-bit lane; start: the accumulator's initial lanes (the centring term).
template <class K>
inline __m512i four_rows(const uint8_t* const rows[4], size_t off, __m512i a_lo, __m512i a_hi,
                         __m512i start) {
  const size_t qs = off + offsetof(typename K::Block, qs);
  __m512i q = _mm512_castsi128_si512(load_128(rows[0] + qs));
  q = _mm512_inserti32x4(q, load_128(rows[1] + qs), 1);
  q = _mm512_inserti32x4(q, load_128(rows[2] + qs), 2);
  q = _mm512_inserti32x4(q, load_128(rows[3] + qs), 3);
  const __m512i mask = _mm512_set1_epi8(0x0F);
  __m512i lo = _mm512_and_si512(q, mask);                         // elements 0..15
  __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), mask);   // elements 16..31
  if constexpr (K::kFive) {
    // Byte 16k + i of lo needs bit i of row k's qh word, byte 16k + i of hi bit 16 + i.
    uint64_t m_lo = 0, m_hi = 0;
    for (int k = 0; k < 4; ++k) {
      const uint32_t h = load_u32(rows[k] + off + offsetof(typename K::Block, qh));
      m_lo |= static_cast<uint64_t>(h & 0xFFFFu) << (16 * k);
      m_hi |= static_cast<uint64_t>(h >> 16) << (16 * k);
    }
    const __m512i x10 = _mm512_set1_epi8(0x10);
    lo = _mm512_mask_add_epi8(lo, static_cast<__mmask64>(m_lo), lo, x10);
    hi = _mm512_mask_add_epi8(hi, static_cast<__mmask64>(m_hi), hi, x10);
  }
  return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo, a_lo), hi, a_hi);
}

// Lane r = sum of the int32 lanes of 128-bit lane r % 4 of part[r / 4].
inline __m256i group_sums(const __m512i part[2]) {
  const __m128i v[kRowLanes] = {
      _mm512_extracti32x4_epi32(part[0], 0), _mm512_extracti32x4_epi32(part[0], 1),
      _mm512_extracti32x4_epi32(part[0], 2), _mm512_extracti32x4_epi32(part[0], 3),
      _mm512_extracti32x4_epi32(part[1], 0), _mm512_extracti32x4_epi32(part[1], 1),
      _mm512_extracti32x4_epi32(part[1], 2), _mm512_extracti32x4_epi32(part[1], 3)};
  return row_sums(v);
}

// y[r] = sum over blocks of d_w * d_x * (sum(code * a) - centre * sum(a)) [+ m_w * d_x * sum(a)],
// with the scalar kernel's roundings.
template <class K>
void gemv_small(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, int64_t n_cols,
                float* y) {
  constexpr size_t kBlockBytes = sizeof(typename K::Block);
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  const int64_t n_blocks = n_cols / kQK;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
    const uint8_t* rows[kRowLanes];
    group_rows(w, row_bytes, r0, n_rows, rows);
    const uint8_t* next_group = w + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
    __m256 acc = _mm256_setzero_ps();  // lane r: row r's running sum
    for (int64_t b = 0; b < n_blocks; ++b) {
      const size_t off = static_cast<size_t>(b) * kBlockBytes;
      prefetch_next_group(next_group, off, kBlockBytes);
      const __m512i a_lo = _mm512_broadcast_i32x4(load_128(xb[b].qs));
      const __m512i a_hi = _mm512_broadcast_i32x4(load_128(xb[b].qs + kQK / 2));
      __m512i start = _mm512_setzero_si512();
      int a_sum = 0;
      if (K::kCentre != 0) {
        const __m512i c = _mm512_set1_epi8(K::kCentre);
        start = _mm512_sub_epi32(start, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, c, a_lo), c, a_hi));
      }
      if (K::kHasMin) {
        const __m512i one = _mm512_set1_epi8(1);
        const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), one, a_lo), one, a_hi);
        a_sum = _mm512_reduce_add_epi32(s) / 4;  // a_lo / a_hi hold four copies of the block
      }
      const __m512i part[2] = {four_rows<K>(rows, off, a_lo, a_hi, start),
                               four_rows<K>(rows + 4, off, a_lo, a_hi, start)};
      const __m256 s = _mm256_cvtepi32_ps(group_sums(part));  // lane r: row r's block dot
      const __m256 dx = _mm256_set1_ps(_cvtsh_ss(xb[b].d));
      const __m256 d = _mm256_mul_ps(gather_fp16(rows, off), dx);  // d_w * d_x
      if constexpr (K::kHasMin) {
        // scalar: sum += d_w * d_x * s + m_w * d_x * a_sum
        const __m256 m = _mm256_mul_ps(gather_fp16(rows, off + offsetof(typename K::Block, m)), dx);
        const __m256 t = _mm256_add_ps(_mm256_mul_ps(d, s), _mm256_mul_ps(m, _mm256_set1_ps(static_cast<float>(a_sum))));
        acc = _mm256_add_ps(acc, t);
      } else if constexpr (K::kFused) {
        acc = _mm256_fmadd_ps(d, s, acc);
      } else {
        acc = _mm256_add_ps(acc, _mm256_mul_ps(d, s));
      }
    }
    store_group(acc, r0, n_rows, y);
  }
}

}  // namespace

void register_quant_k_kernels(KernelTable& table);  // quant_kernels_k.cpp

// Activation formats stay the scalar table's (Q8_0 for these types, Q8_K for the K types), and
// the activation quantizers the AVX2 ones the table already holds.
void register_quant_kernels(KernelTable& table) {
  set_gemv(table, DType::Q8_0, gemv_q8_0);
  set_gemv(table, DType::Q4_0, gemv_small<Q4_0Kernel>);
  set_gemv(table, DType::Q4_1, gemv_small<Q4_1Kernel>);
  set_gemv(table, DType::Q5_0, gemv_small<Q5_0Kernel>);
  set_gemv(table, DType::Q5_1, gemv_small<Q5_1Kernel>);
  register_quant_k_kernels(table);
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
