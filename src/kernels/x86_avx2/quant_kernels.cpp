// AVX2 integer-dot kernels for the 32-element quantized types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1)
// against Q8_0 activations, and the registration of every AVX2 quantized kernel.
//
// Per block and row: the codes are expanded to 32 unsigned bytes (Q8_0: |w| with the sign moved
// onto the activations), maddubs multiplies them with the activation bytes and adds pairs into
// int16 (at most 2 * 31 * 127 in magnitude, or 2 * 128 * 127 for Q8_0: no saturation, given the
// activation quantizer's range [-127, 127]), and madd adds pairs into int32. The offset of the
// centred types (Q4_0: code - 8, Q5_0: code - 16) is applied once per block for all rows as
// offset * sum(activations), which is exact and cheaper than re-centring every row's codes.
// See quant_common.h for the 8-rows-in-lanes scheme and why a row's result is independent of
// the group it is computed in.
#include <immintrin.h>

#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx2/quant_common.h"
#include "quant/blocks.h"

namespace loam {
namespace avx2 {
namespace {

inline __m256i ones_16() { return _mm256_set1_epi16(1); }

// int32 lanes summing to sum(code * a) over one block: `codes` unsigned, `a` signed.
inline __m256i dot_u8_i8(__m256i codes, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(codes, a), ones_16());
}

// The 16 code bytes of a 4-bit block of row k (lane 0) and of row k + 4 (lane 1): *lo gets the
// low nibbles (elements 0..15), *hi the high nibbles (elements 16..31). Putting two rows in one
// register halves the shifts and masks and lets the row sums start out in the pair layout.
inline void nibble_pair(const uint8_t* qs_k, const uint8_t* qs_k4, __m256i* lo, __m256i* hi) {
  const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(load_128(qs_k)), load_128(qs_k4), 1);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  *lo = _mm256_and_si256(q, mask);
  *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
}

// The fifth bits of a Q5 block of row k and of row k + 4 (qh words h_k, h_k4: bit i = element i)
// as 0x10 bytes, laid out like nibble_pair's *lo and *hi, and or-ed into them.
inline void add_fifth_bits(uint32_t h_k, uint32_t h_k4, __m256i* lo, __m256i* hi) {
  // [h_k h_k4] in every 64-bit lane, assembled in vector registers (no general-register shifts).
  const __m256i h = _mm256_broadcastq_epi64(
      _mm_insert_epi32(_mm_cvtsi32_si128(static_cast<int>(h_k)), static_cast<int>(h_k4), 1));
  // Byte i of the result takes byte i / 8 of its row's word (row k4's word is bytes 4..7).
  const __m256i spread_lo = _mm256_shuffle_epi8(
      h, _mm256_setr_epi64x(0, 0x0101010101010101, 0x0404040404040404, 0x0505050505050505));
  const __m256i spread_hi = _mm256_shuffle_epi8(
      h, _mm256_setr_epi64x(0x0202020202020202, 0x0303030303030303, 0x0606060606060606,
                            0x0707070707070707));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i x10 = _mm256_set1_epi8(0x10);
  *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread_lo, bit), bit), x10));
  *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread_hi, bit), bit), x10));
}

// int16 lanes of a row pair: lane 0 partial sums of row k, lane 1 of row k + 4 (4 products each).
inline __m256i pair_products(__m256i lo, __m256i hi, __m256i a_lo, __m256i a_hi) {
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, a_lo), _mm256_maddubs_epi16(hi, a_hi));
}

// Row totals (lane r = row r) from four pair_products of 4-bit codes. Sums of up to 16 products
// of a 4-bit code and an int8 stay within int16 (16 * 15 * 127 = 30480), so the transposition runs
// on int16 lanes and a single madd widens the last pair of partial sums.
inline __m256i reduce_pairs_4bit(const __m256i p[4]) {
  const __m256i t01 = _mm256_add_epi16(_mm256_unpacklo_epi16(p[0], p[1]), _mm256_unpackhi_epi16(p[0], p[1]));
  const __m256i t23 = _mm256_add_epi16(_mm256_unpacklo_epi16(p[2], p[3]), _mm256_unpackhi_epi16(p[2], p[3]));
  // words [r0 r1 r2 r3 r0 r1 r2 r3 | r4 r5 r6 r7 r4 r5 r6 r7]
  const __m256i u = _mm256_add_epi16(_mm256_unpacklo_epi32(t01, t23), _mm256_unpackhi_epi32(t01, t23));
  const __m256i by_row = _mm256_shuffle_epi8(
      u, _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15, 0, 1, 8, 9, 2, 3,
                          10, 11, 4, 5, 12, 13, 6, 7, 14, 15));
  return _mm256_madd_epi16(by_row, ones_16());
}

// Row totals from four pair_products of 5-bit codes (16 products could overflow int16: widen
// first).
inline __m256i reduce_pairs_5bit(const __m256i p[4]) {
  const __m256i u[4] = {_mm256_madd_epi16(p[0], ones_16()), _mm256_madd_epi16(p[1], ones_16()),
                        _mm256_madd_epi16(p[2], ones_16()), _mm256_madd_epi16(p[3], ones_16())};
  return transpose_sum_pairs(u);
}

// Each 32-element type but Q8_0 (Q8_0Kernel below): block size in bytes, whether the block carries
// an offset m (Q4_1, Q5_1), the centring offset of its codes, and block_sums(): lane r =
// sum(code * a) for row r's block at byte offset `off` (a_lo / a_hi: the activation codes' halves
// in both lanes).
template <class Block, bool kFive>
struct SmallCodes {
  // The unsigned codes of rows k and k + 4's blocks at byte offset `off`, laid out as nibble_pair's.
  static void unpack_pair(const uint8_t* const rows[kRowLanes], size_t off, int k, __m256i* lo, __m256i* hi) {
    const uint8_t* bk = rows[k] + off;
    const uint8_t* bk4 = rows[k + 4] + off;
    nibble_pair(bk + offsetof(Block, qs), bk4 + offsetof(Block, qs), lo, hi);
    if (kFive) add_fifth_bits(load_u32(bk + kQhOffset), load_u32(bk4 + kQhOffset), lo, hi);
  }
  static __m256i reduce(const __m256i p[4]) { return kFive ? reduce_pairs_5bit(p) : reduce_pairs_4bit(p); }
  // One token (gemv): each row pair's codes unpacked and used at once, so that few stay live.
  static __m256i block_sums(const uint8_t* const rows[kRowLanes], size_t off, __m256i a_lo,
                            __m256i a_hi) {
    __m256i p[4];  // [row pair k, k + 4] int16 partial sums
    for (int k = 0; k < 4; ++k) {
      __m256i lo, hi;
      unpack_pair(rows, off, k, &lo, &hi);
      p[k] = pair_products(lo, hi, a_lo, a_hi);
    }
    return reduce(p);
  }
  // Several tokens (gemm): the 8 rows' codes unpacked once (lo[k] / hi[k]: rows k and k + 4), then
  // code_sums per token, with block_sums' integer operations.
  struct Codes {
    __m256i lo[4], hi[4];
  };
  static void unpack(const uint8_t* const rows[kRowLanes], size_t off, Codes* c) {
    for (int k = 0; k < 4; ++k) unpack_pair(rows, off, k, &c->lo[k], &c->hi[k]);
  }
  static __m256i code_sums(const Codes& c, __m256i a_lo, __m256i a_hi) {
    __m256i p[4];
    for (int k = 0; k < 4; ++k) p[k] = pair_products(c.lo[k], c.hi[k], a_lo, a_hi);
    return reduce(p);
  }
  // Q5_0 / Q5_1 keep qh right before qs; the Q4 types have none.
  static constexpr size_t kQhOffset = offsetof(Block, qs) - 4;
};

// Q8_0 through gemv_q8_0_act: per block, each row's exact integer dot (at most 32 x 128 x 127 in
// magnitude), one fused multiply-add by d_w * d_x. This is the AVX2 set's Q8_0 float order, chosen
// for the interleaved multi-token kernel (interleaved_kernels.cpp), which keeps one accumulator per
// token instead of the scalar kernel's 8 float lanes per row; this file-layout kernel follows it.
struct Q8_0Kernel {
  static constexpr int kBlockBytes = sizeof(BlockQ8_0);
  static constexpr bool kHasMin = false;
  static constexpr int kCentre = 0;
  static __m256i block_sums(const uint8_t* const rows[kRowLanes], size_t off, __m256i a_lo,
                            __m256i a_hi) {
    const __m256i a = _mm256_blend_epi32(a_lo, a_hi, 0xF0);  // the block's 32 activation codes
    __m256i s[kRowLanes];  // [row] int32 partial sums
    for (int r = 0; r < kRowLanes; ++r) {
      const __m256i wq = load_256(rows[r] + off + offsetof(BlockQ8_0, qs));
      // |w| * (a with w's sign): the signed x signed product through the unsigned x signed maddubs.
      s[r] = dot_u8_i8(_mm256_abs_epi8(wq), _mm256_sign_epi8(a, wq));
    }
    return transpose_sum8(s);
  }
};

struct Q4_0Kernel : SmallCodes<BlockQ4_0, false> {
  static constexpr int kBlockBytes = sizeof(BlockQ4_0);
  static constexpr bool kHasMin = false;
  static constexpr int kCentre = 8;
};

// kGemmGroup: tokens per pass of gemm_q8_0_act (below), measured on TinyLlama-shaped files, pp512, 2
// threads, AVX2 EPYC, groups of 2 / 4 / 6 / 8: Q4_1 81 / 96 / 89 / 82 tok/s, Q5_0 62 / 84 / 82 /
// 81, Q5_1 57 / 75 / 76 / 79 (one token per pass, before: 64, 41, 39).
struct Q4_1Kernel : SmallCodes<BlockQ4_1, false> {
  static constexpr int kBlockBytes = sizeof(BlockQ4_1);
  static constexpr bool kHasMin = true;
  static constexpr int kCentre = 0;
  static constexpr int kGemmGroup = 4;
};

struct Q5_0Kernel : SmallCodes<BlockQ5_0, true> {
  static constexpr int kBlockBytes = sizeof(BlockQ5_0);
  static constexpr bool kHasMin = false;
  static constexpr int kCentre = 16;
  static constexpr int kGemmGroup = 4;
};

struct Q5_1Kernel : SmallCodes<BlockQ5_1, true> {
  static constexpr int kBlockBytes = sizeof(BlockQ5_1);
  static constexpr bool kHasMin = true;
  static constexpr int kCentre = 0;
  static constexpr int kGemmGroup = 8;
};

static_assert(offsetof(BlockQ5_0, qh) + 4 == offsetof(BlockQ5_0, qs), "Q5_0 layout");
static_assert(offsetof(BlockQ5_1, qh) + 4 == offsetof(BlockQ5_1, qs), "Q5_1 layout");

// Activation blocks whose per-block values are prepared once per call and chunk (the sums below
// are the same for every row group); 1024 blocks = 32768 columns, 8 KiB of stack.
constexpr int64_t kChunkBlocks = 1024;

// Loads a group's running sums stored by store_group (lanes past n_rows read as 0).
inline __m256 load_group(const float* y, int64_t r0, int64_t n_rows) {
  if (n_rows - r0 >= kRowLanes) return _mm256_loadu_ps(y + r0);
  alignas(32) float tmp[kRowLanes] = {};
  for (int64_t r = 0; r < n_rows - r0; ++r) tmp[r] = y[r0 + r];
  return _mm256_load_ps(tmp);
}

// The 8 rows' scales d (and offsets m, for the types that have them) of the blocks at byte `off`.
template <class K>
inline void gather_scales(const uint8_t* const rows[kRowLanes], size_t off, __m256* d, __m256* m) {
  if (K::kHasMin) {
    gather_fp16_pair(rows, off, d, m);
  } else {
    *d = gather_fp16(rows, off);
    *m = _mm256_setzero_ps();
  }
}

// acc plus one block's term per row, from its integer dot `sums`, the rows' d (and m) and the
// activation block's scale dxb (in every lane) and code sum a_sum (x centre): the one float order
// of gemv and gemm.
template <class K>
inline __m256 add_block(__m256 acc, __m256i sums, __m256 d, __m256 m, __m256 dxb, int32_t a_sum) {
  if (K::kHasMin) {
    __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(d, dxb));
    t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_set1_epi32(a_sum)), _mm256_mul_ps(m, dxb), t);
    return _mm256_add_ps(acc, t);
  }
  if (K::kCentre != 0) sums = _mm256_sub_epi32(sums, _mm256_set1_epi32(a_sum));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(d, dxb), acc);
}

// y[r] = sum over blocks b of d_w * d_x * (sum(code * a) - centre * sum(a)) [+ m_w * d_x * sum(a)]
template <class K>
void gemv_q8_0_act(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                   int64_t n_cols, float* y) {
  const BlockQ8_0* xb = static_cast<const BlockQ8_0*>(x);
  const int64_t n_blocks = n_cols / kQK;
  alignas(32) float dx[kChunkBlocks];        // [block] activation scale
  alignas(32) int32_t a_sum[kChunkBlocks];   // [block] sum of activation codes (x centre)
  if (n_blocks == 0) {
    for (int64_t r = 0; r < n_rows; ++r) y[r] = 0.0f;
    return;
  }
  // Columns are split in chunks only past kChunkBlocks blocks; a row's sum then continues from
  // the value stored in y, exactly, so results do not depend on the chunking either.
  for (int64_t c0 = 0; c0 < n_blocks; c0 += kChunkBlocks) {
    const int64_t nb = n_blocks - c0 < kChunkBlocks ? n_blocks - c0 : kChunkBlocks;
    const BlockQ8_0* xc = xb + c0;
    for (int64_t b = 0; b < nb; ++b) {
      dx[b] = _cvtsh_ss(xc[b].d);
      if (K::kHasMin || K::kCentre != 0) {
        const int mult = K::kHasMin ? 1 : K::kCentre;
        const __m256i s = broadcast_sum(dot_u8_i8(_mm256_set1_epi8(static_cast<char>(mult)), load_256(xc[b].qs)));
        a_sum[b] = _mm256_cvtsi256_si32(s);
      }
    }
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
      const uint8_t* rows[kRowLanes];
      const uint8_t* wc = w + static_cast<size_t>(c0) * K::kBlockBytes;  // this chunk's columns
      group_rows(wc, row_bytes, r0, n_rows, rows);
      const uint8_t* next_group = wc + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
      // lane r: row r's running sum
      __m256 acc = c0 == 0 ? _mm256_setzero_ps() : load_group(y, r0, n_rows);
      for (int64_t b = 0; b < nb; ++b) {
        const __m256i a_lo = _mm256_broadcastsi128_si256(load_128(xc[b].qs));
        const __m256i a_hi = _mm256_broadcastsi128_si256(load_128(xc[b].qs + kQK / 2));
        const size_t off = static_cast<size_t>(b) * K::kBlockBytes;
        prefetch_next_group(next_group, off, K::kBlockBytes);
        const __m256i sums = K::block_sums(rows, off, a_lo, a_hi);  // lane r: row r's block dot
        // dxb before the gather, as it always was here: built inside add_block, after it, GCC
        // scheduled Q4_1's loop otherwise and decode ran ~5% slower (tg64 medians of 5 alternating
        // runs, 42.8 against 46.1 tok/s, AVX2 EPYC).
        const __m256 dxb = _mm256_set1_ps(dx[b]);
        __m256 d, m;
        gather_scales<K>(rows, off, &d, &m);
        acc = add_block<K>(acc, sums, d, m, dxb, a_sum[b]);
      }
      store_group(acc, r0, n_rows, y);
    }
  }
}

// NT tokens at once (activations x + t * x_stride, results y + t * y_stride), for the types
// whose codes SmallCodes unpacks: each row group's codes, scales and offsets are unpacked once per
// block for the NT tokens, and each token gets gemv_q8_0_act's integer sums and float operations,
// so its results bit for bit.
constexpr int64_t kTokenChunkBlocks = 256;  // 8192 columns

template <class K, int NT>
void q8_0_act_tokens(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                     size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  static_assert(K::kHasMin || K::kCentre != 0, "the code sums below are for types with an offset or a centre");
  const int64_t n_blocks = n_cols / kQK;
  if (n_blocks == 0) {
    for (int t = 0; t < NT; ++t)
      for (int64_t r = 0; r < n_rows; ++r) y[t * y_stride + r] = 0.0f;
    return;
  }
  // Per token a scale and a code sum per block of a chunk of columns, 2 KiB of stack per token
  // (the pool's threads may have small stacks). Smaller chunks than gemv_q8_0_act's change no bit:
  // a row's sum continues exactly from the value stored in y.
  alignas(32) float dx[NT][kTokenChunkBlocks];
  alignas(32) int32_t a_sum[NT][kTokenChunkBlocks];
  for (int64_t c0 = 0; c0 < n_blocks; c0 += kTokenChunkBlocks) {
    const int64_t nb = n_blocks - c0 < kTokenChunkBlocks ? n_blocks - c0 : kTokenChunkBlocks;
    const BlockQ8_0* xc[NT];
    prepare_act_chunk<NT>(x, x_stride, c0, nb, K::kHasMin ? 1 : K::kCentre, xc, dx, a_sum);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRowLanes) {
      const uint8_t* rows[kRowLanes];
      const uint8_t* wc = w + static_cast<size_t>(c0) * K::kBlockBytes;
      group_rows(wc, row_bytes, r0, n_rows, rows);
      const uint8_t* next_group = wc + static_cast<size_t>(r0 + kRowLanes) * row_bytes;
      __m256 acc[NT];  // [token] lane r: row r's running sum
      for (int t = 0; t < NT; ++t) acc[t] = c0 == 0 ? _mm256_setzero_ps() : load_group(y + t * y_stride, r0, n_rows);
      for (int64_t b = 0; b < nb; ++b) {
        const size_t off = static_cast<size_t>(b) * K::kBlockBytes;
        prefetch_next_group(next_group, off, K::kBlockBytes);
        typename K::Codes codes;
        K::unpack(rows, off, &codes);
        __m256 d, m;
        gather_scales<K>(rows, off, &d, &m);
        for (int t = 0; t < NT; ++t) {
          const __m256i a_lo = _mm256_broadcastsi128_si256(load_128(xc[t][b].qs));
          const __m256i a_hi = _mm256_broadcastsi128_si256(load_128(xc[t][b].qs + kQK / 2));
          acc[t] = add_block<K>(acc[t], K::code_sums(codes, a_lo, a_hi), d, m, _mm256_set1_ps(dx[t][b]), a_sum[t][b]);
        }
      }
      for (int t = 0; t < NT; ++t) store_group(acc[t], r0, n_rows, y + t * y_stride);
    }
  }
}

// GemmFn for Q4_1, Q5_0 and Q5_1 weights in the file layout: tokens in groups of K::kGemmGroup,
// then of 4, then one at a time (q8_0_act_tokens<K, 1> is gemv_q8_0_act's arithmetic).
template <class K>
void gemm_q8_0_act(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x, size_t x_stride,
                   int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  int t = 0;
  for (; t + K::kGemmGroup <= n_tokens; t += K::kGemmGroup)
    q8_0_act_tokens<K, K::kGemmGroup>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols,
                                      y + t * y_stride, y_stride);
  if (K::kGemmGroup > 4)
    for (; t + 4 <= n_tokens; t += 4)
      q8_0_act_tokens<K, 4>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  for (; t < n_tokens; ++t)
    q8_0_act_tokens<K, 1>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
}


void set_gemv(KernelTable& table, DType weight, GemvFn fn) {
  table.weights[static_cast<uint32_t>(weight)].gemv = fn;
}

}  // namespace

void register_quant_k_kernels(KernelTable& table);    // quant_kernels_k.cpp
void register_quant_act_kernels(KernelTable& table);  // quant_act.cpp
void register_interleaved_kernels(KernelTable& table);  // interleaved_kernels.cpp

// Activation formats stay the scalar table's (Q8_0 for these types, Q8_K for the K types): the
// kernels read exactly those blocks, and the AVX2 quantizers write the scalar ones' bytes.
void register_quant_kernels(KernelTable& table) {
  set_gemv(table, DType::Q8_0, gemv_q8_0_act<Q8_0Kernel>);
  set_gemv(table, DType::Q4_0, gemv_q8_0_act<Q4_0Kernel>);
  set_gemv(table, DType::Q4_1, gemv_q8_0_act<Q4_1Kernel>);
  set_gemv(table, DType::Q5_0, gemv_q8_0_act<Q5_0Kernel>);
  set_gemv(table, DType::Q5_1, gemv_q8_0_act<Q5_1Kernel>);
  table.weights[static_cast<uint32_t>(DType::Q4_1)].gemm = gemm_q8_0_act<Q4_1Kernel>;
  table.weights[static_cast<uint32_t>(DType::Q5_0)].gemm = gemm_q8_0_act<Q5_0Kernel>;
  table.weights[static_cast<uint32_t>(DType::Q5_1)].gemm = gemm_q8_0_act<Q5_1Kernel>;
  register_quant_k_kernels(table);
  register_quant_act_kernels(table);
  register_interleaved_kernels(table);
}

}  // namespace avx2
}  // namespace loam
