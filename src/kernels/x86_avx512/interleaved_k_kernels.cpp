// AVX-512 VNNI kernels for several tokens over Q4_K, Q5_K and Q6_K weights in the interleaved layout
// (quant/interleave.h: per group of 8 rows and super-block column, d, dmin, the unpacked sub-block
// scales and mins, Q5_K's fifth-bit runs, then 32 runs of 32 bytes, run 8c + i holding elements
// 4i..4i+3 of sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles) of every row, one row per
// 32-bit lane; Q6_K below).
//
// They give the AVX2 interleaved kernels' results (x86_avx2/interleaved_kernels.cpp) bit for bit:
// per row the integer total sum_j sc_j * sum(code * a) over a super-block is exact however it is
// formed. The AVX2 kernels add maddubs pair sums in int16 and let one madd per sub-block apply the
// scale; here one vpdpbusd per 4 codes of every row gives each sub-block's sum in int32, and one
// vpmulld applies the scale. The mins term is the AVX2 kernels' integer sum, and the float
// operations per super-block are theirs: acc += sum * (d * dx), acc_min += mins * (dmin * dx),
// y = acc - acc_min (the AVX2 Q5_K kernel adds the negated mins term with fnmadd and adds acc_min
// at the end, which rounds to the same bits: round-to-nearest is symmetric in sign). Up to 8
// tokens (Q6_K: 4) share each unpacking of the weights, and two groups of 8 rows share each 512-bit
// register.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/simd.h"
#include "kernels/x86_avx512/vnni_ops.h"
#include "quant/blocks.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

constexpr int kGroupRows = 8;
// Tokens per pass over the weights, measured on the Intel Xeon of issue 8 (2 threads, TinyLlama
// shape, pp512, two alternating rounds of 4 against 8): Q4_K_M 197 / 199 tok/s, Q5_K_M 167 / 178,
// Q6_K 145 / 131 (its four int32 sums per token spill at 8).
constexpr int kMaxTokens = 8;
constexpr int kQ6_KMaxTokens = 4;
// Byte offsets in a Q4_K / Q5_K column (quant/interleave.h).
constexpr size_t kDmin = 16, kScales = 32, kMins = 96;

// Q4_K: the codes are the nibbles.
struct Q4_KCodes {
  static constexpr size_t kColumnBytes = 1184;
  static constexpr size_t kCodes = 160;
  template <int C, class V>
  static void unpack(V q, const V&, V& c0, V& c1) {
    c0 = low_nibbles(q);
    c1 = high_nibbles(q);
  }
};

// Q5_K: the nibbles with the fifth bit from run i of the high bits (bit j: sub-block j).
struct Q5_KCodes {
  static constexpr size_t kColumnBytes = 1440;
  static constexpr size_t kCodes = 416;
  static constexpr size_t kHigh = 160;
  template <int C, class V>
  static void unpack(V q, const V& qh, V& c0, V& c1) {
    c0 = bit_or(low_nibbles(q), bit_to_4<2 * C>(qh));
    c1 = bit_or(high_nibbles(q), bit_to_4<2 * C + 1>(qh));
  }
};

// The words the mins term multiplies: word p holds the activation sums of sub-blocks 2p and 2p + 1
// (each the sum of two 16-element bsums, exact in int16) in its low and high halves.
inline void min_words(const BlockQ8_K& xb, int32_t (&words)[4]) {
  for (int p = 0; p < 4; ++p) {
    const auto lo = static_cast<uint16_t>(xb.bsums[4 * p] + xb.bsums[4 * p + 1]);
    const auto hi = static_cast<uint16_t>(xb.bsums[4 * p + 2] + xb.bsums[4 * p + 3]);
    words[p] = static_cast<int32_t>(static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16));
  }
}

// Lane r: sum_j m_j * sum(a_j) of row r of one group (exact in int32): per sub-block pair, one
// madd of the rows' two mins (int16) with the pair's activation sums.
inline __m256i mins_term(const uint8_t* col, const int32_t (&words)[4]) {
  __m256i mins = _mm256_setzero_si256();
  for (int p = 0; p < 4; ++p) {
    const __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col + kMins + 16 * p)));
    mins = _mm256_add_epi32(mins, _mm256_madd_epi16(m, _mm256_set1_epi32(words[p])));
  }
  return mins;
}

// One 8-row group (256 bits) or two (512 bits): where its columns are, and their loads.
struct OneGroup {
  using Int = __m256i;
  using Float = __m256;
  const uint8_t* col;
  Int runs(size_t offset) const { return load_runs(col + offset); }
  Int scale_lanes(int j) const { return bytes_to_lanes(col + kScales + 8 * j); }
  Float f16(size_t offset) const { return scales(col + offset); }
  Int mins(const int32_t (&words)[4]) const { return mins_term(col, words); }
};
struct TwoGroups {
  using Int = __m512i;
  using Float = __m512;
  const uint8_t* col0;
  const uint8_t* col1;
  Int runs(size_t offset) const { return load_runs(col0 + offset, col1 + offset); }
  Int scale_lanes(int j) const { return bytes_to_lanes(col0 + kScales + 8 * j, col1 + kScales + 8 * j); }
  Float f16(size_t offset) const { return scales(col0 + offset, col1 + offset); }
  Int mins(const int32_t (&words)[4]) const {
    return _mm512_inserti64x4(_mm512_castsi256_si512(mins_term(col0, words)), mins_term(col1, words), 1);
  }
};

// Adds one super-block column of the group(s) g to the NT tokens' accumulators.
template <class K, int NT, class G>
void add_column(const G& g, const BlockQ8_K* const (&xb)[NT], const int32_t (&words)[NT][4],
                typename G::Float (&acc)[NT], typename G::Float (&acc_min)[NT]) {
  using Int = typename G::Int;
  const uint8_t* a[NT];
  Int total[NT];  // [token] lane r: row r's sum_j sc_j * sum(code * a) so far
  for (int t = 0; t < NT; ++t) {
    a[t] = reinterpret_cast<const uint8_t*>(xb[t]->qs);
    zero(total[t]);
  }
  auto pair = [&](auto c_tag) {  // sub-blocks 2c and 2c + 1
    constexpr int c = decltype(c_tag)::value;
    Int s0[NT], s1[NT];
    for (int t = 0; t < NT; ++t) {
      zero(s0[t]);
      zero(s1[t]);
    }
    for (int i = 0; i < 8; ++i) {
      Int qh{}, c0, c1;
      if constexpr (std::is_same_v<K, Q5_KCodes>) qh = g.runs(K::kHigh + 32 * i);
      K::template unpack<c>(g.runs(K::kCodes + 32 * (8 * c + i)), qh, c0, c1);
      for (int t = 0; t < NT; ++t) {
        s0[t] = dpbusd(s0[t], c0, a[t] + 64 * c + 4 * i);
        s1[t] = dpbusd(s1[t], c1, a[t] + 64 * c + 32 + 4 * i);
      }
    }
    const Int sc0 = g.scale_lanes(2 * c), sc1 = g.scale_lanes(2 * c + 1);
    for (int t = 0; t < NT; ++t) total[t] = add(total[t], add(mullo(s0[t], sc0), mullo(s1[t], sc1)));
  };
  pair(std::integral_constant<int, 0>());
  pair(std::integral_constant<int, 1>());
  pair(std::integral_constant<int, 2>());
  pair(std::integral_constant<int, 3>());
  const typename G::Float d = g.f16(0), dmin = g.f16(kDmin);
  for (int t = 0; t < NT; ++t) {
    acc[t] = fmadd(convert(total[t]), mul(d, xb[t]->d), acc[t]);
    acc_min[t] = fmadd(convert(g.mins(words[t])), mul(dmin, xb[t]->d), acc_min[t]);
  }
}

// y_t[r] for tokens t < NT (activations x + t * x_stride, results y + t * y_stride).
template <class K, int NT>
void k_interleaved_vnni(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t x_stride,
                        int64_t n_cols, float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQKK;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * K::kColumnBytes;
  const BlockQ8_K* xt[NT];
  for (int t = 0; t < NT; ++t) xt[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
  auto run = [&](auto g_tag, int64_t r0, int groups) {
    using G = decltype(g_tag);
    typename G::Float acc[NT], acc_min[NT];
    for (int t = 0; t < NT; ++t) {
      zero(acc[t]);
      zero(acc_min[t]);
    }
    const uint8_t* g0 = w + static_cast<size_t>(r0 / kGroupRows) * group_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* col0 = g0 + static_cast<size_t>(b) * K::kColumnBytes;
      // The next groups' column, fetched while this one is computed (as the AVX2 kernels do).
      for (int k = 0; k < groups; ++k) prefetch_ahead(col0, (groups + k) * group_bytes, K::kColumnBytes);
      const BlockQ8_K* xb[NT];
      int32_t words[NT][4];
      for (int t = 0; t < NT; ++t) {
        xb[t] = xt[t] + b;
        min_words(*xb[t], words[t]);
      }
      G g;
      if constexpr (std::is_same_v<G, TwoGroups>) g = G{col0, col0 + group_bytes};
      else g = G{col0};
      add_column<K, NT>(g, xb, words, acc, acc_min);
    }
    for (int t = 0; t < NT; ++t) store(y + t * y_stride + r0, sub(acc[t], acc_min[t]));
  };
  int64_t r0 = 0;
  for (; r0 + 2 * kGroupRows <= n_rows; r0 += 2 * kGroupRows) run(TwoGroups{}, r0, 2);
  for (; r0 < n_rows; r0 += kGroupRows) run(OneGroup{}, r0, 1);
}

template <class K>
void gemm_k_interleaved(const uint8_t* w, size_t, int64_t n_rows, const void* x, size_t x_stride,
                        int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  in_token_passes<kMaxTokens>(n_tokens, [&](auto nt, int t) {
    k_interleaved_vnni<K, decltype(nt)::value>(w, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  });
}

// Q6_K (quant/interleave.h: per group and super-block column d, the int8 scales by pairs, then 16
// steps s = 8h + i of three runs holding elements 128h + 32k + 4i .. +3, k = 0..3). The AVX2 kernel
// applies each 16-element group's scale to every maddubs pair sum through a madd; here vpdpbusd
// sums a group's 16 codes against the activations over 4 steps in int32, and one vpmulld applies
// the scale. The centring (code - 32) is the AVX2 kernel's: 32 x sum_g scales[g] * sum(a_g) from
// the activation sums, subtracted before the one fused multiply-add per super-block.
constexpr size_t kQ6_KColumn = 1680, kQ6_KScales = 16, kQ6_KCodes = 144;

// Lane r: [scales[2p], scales[2p+1]] of row r of one group, as two int16.
inline __m256i q6_scale_pairs(const uint8_t* col, int p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col + kQ6_KScales + 16 * p)));
}
inline __m256i q6_centre(const uint8_t* col, const BlockQ8_K& xb) {
  __m256i centre = _mm256_setzero_si256();  // lane r: sum_g scales[g] * sum(a_g) of row r
  for (int p = 0; p < 8; ++p) {
    int32_t word;
    std::memcpy(&word, xb.bsums + 2 * p, sizeof word);
    centre = _mm256_add_epi32(centre, _mm256_madd_epi16(q6_scale_pairs(col, p), _mm256_set1_epi32(word)));
  }
  return centre;
}
inline __m256i widen(const __m256i (&v)[2], int) { return v[0]; }
inline __m256 float_scales(const uint8_t* const (&col)[2], int) { return scales(col[0]); }
inline __m512 float_scales(const uint8_t* const (&col)[2], long) { return scales(col[0], col[1]); }
inline __m512i widen(const __m256i (&v)[2], long) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(v[0]), v[1], 1);
}

// The vector types for one 8-row group per register or two.
template <int Groups>
struct Lanes {
  using Int = __m256i;
  using Float = __m256;
};
template <>
struct Lanes<2> {
  using Int = __m512i;
  using Float = __m512;
};

template <int NT, int kGroups>
void q6_K_interleaved_vnni(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t x_stride,
                           int64_t n_cols, float* y, size_t y_stride) {
  using V = typename Lanes<kGroups>::Int;
  using F = typename Lanes<kGroups>::Float;
  const int64_t n_blocks = n_cols / kQKK;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * kQ6_KColumn;
  const BlockQ8_K* xt[NT];
  for (int t = 0; t < NT; ++t) xt[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride);
  auto widened = [](auto per_group) {  // per_group(k) for each of the register's groups, joined
    __m256i parts[2];
    for (int k = 0; k < kGroups; ++k) parts[k] = per_group(k);
    return widen(parts, std::conditional_t<kGroups == 2, long, int>(0));
  };
  const V nibbles = widened([](int) { return _mm256_set1_epi8(0x0F); });
  const V top_bits = widened([](int) { return _mm256_set1_epi8(0x30); });
  for (int64_t r0 = 0; r0 + 8 * kGroups <= n_rows; r0 += 8 * kGroups) {
    const uint8_t* g0 = w + static_cast<size_t>(r0 / 8) * group_bytes;
    F acc[NT];
    for (int t = 0; t < NT; ++t) zero(acc[t]);
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* col0 = g0 + static_cast<size_t>(b) * kQ6_KColumn;
      const uint8_t* col[2] = {col0, kGroups == 2 ? col0 + group_bytes : col0};
      for (int k = 0; k < kGroups; ++k)
        prefetch_ahead(col[k], kGroups * group_bytes, kQ6_KColumn);
      // sc[g] lane r: scales[g] of row r, sign-extended to int32 (on the stack: registers are full).
      alignas(64) V sc[16];
      for (int p = 0; p < 8; ++p) {
        const V pairs = widened([&](int k) { return q6_scale_pairs(col[k], p); });
        sc[2 * p] = srai32(slli32(pairs, 16), 16);
        sc[2 * p + 1] = srai32(pairs, 16);
      }
      const uint8_t* a[NT];
      V total[NT];  // [token] lane r: sum_g scales[g] * sum(code * a) of row r
      for (int t = 0; t < NT; ++t) {
        a[t] = reinterpret_cast<const uint8_t*>(xt[t][b].qs);
        zero(total[t]);
      }
      for (int h = 0; h < 2; ++h) {
        for (int quarter = 0; quarter < 2; ++quarter) {  // steps i = 4 quarter .. + 3: one group per k
          V s[NT][4];
          for (int t = 0; t < NT; ++t)
            for (int k = 0; k < 4; ++k) zero(s[t][k]);
          for (int i = 4 * quarter; i < 4 * quarter + 4; ++i) {
            const size_t run = kQ6_KCodes + 96 * static_cast<size_t>(8 * h + i);
            const V ql0 = widened([&](int k) { return load_runs(col[k] + run); });
            const V ql1 = widened([&](int k) { return load_runs(col[k] + run + 32); });
            const V qh = widened([&](int k) { return load_runs(col[k] + run + 64); });
            // Bits 2k, 2k+1 of qh moved to bits 4, 5 (16-bit shifts: what crosses a byte is masked off).
            const V q0 = bit_or(bit_and(ql0, nibbles), bit_and(slli16(qh, 4), top_bits));
            const V q1 = bit_or(bit_and(ql1, nibbles), bit_and(slli16(qh, 2), top_bits));
            const V q2 = bit_or(high_nibbles(ql0), bit_and(qh, top_bits));
            const V q3 = bit_or(high_nibbles(ql1), bit_and(srli16(qh, 2), top_bits));
            for (int t = 0; t < NT; ++t) {
              const uint8_t* at = a[t] + 128 * h + 4 * i;
              s[t][0] = dpbusd(s[t][0], q0, at);
              s[t][1] = dpbusd(s[t][1], q1, at + 32);
              s[t][2] = dpbusd(s[t][2], q2, at + 64);
              s[t][3] = dpbusd(s[t][3], q3, at + 96);
            }
          }
          const int g0i = 8 * h + quarter;  // the group of elements 128h + 4i; + 2k for run k
          for (int t = 0; t < NT; ++t)
            for (int k = 0; k < 4; ++k) total[t] = add(total[t], mullo(s[t][k], sc[g0i + 2 * k]));
        }
      }
      const F d = float_scales(col, std::conditional_t<kGroups == 2, long, int>(0));
      for (int t = 0; t < NT; ++t) {
        const V centre = widened([&](int k) { return q6_centre(col[k], xt[t][b]); });
        const V v = sub32(total[t], slli32(centre, 5));
        acc[t] = fmadd(convert(v), mul(d, xt[t][b].d), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) store(y + t * y_stride + r0, acc[t]);
  }
}

template <int NT>
void q6_K_tokens(const uint8_t* w, int64_t n_rows, const uint8_t* x, size_t x_stride, int64_t n_cols,
                 float* y, size_t y_stride) {
  const int64_t pairs = n_rows / 16 * 16;
  q6_K_interleaved_vnni<NT, 2>(w, pairs, x, x_stride, n_cols, y, y_stride);
  if (pairs < n_rows)
    q6_K_interleaved_vnni<NT, 1>(w + static_cast<size_t>(pairs / 8) * (n_cols / kQKK) * kQ6_KColumn,
                                       n_rows - pairs, x, x_stride, n_cols, y + pairs, y_stride);
}

void gemm_q6_K_interleaved(const uint8_t* w, size_t, int64_t n_rows, const void* x, size_t x_stride,
                           int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  in_token_passes<kQ6_KMaxTokens>(n_tokens, [&](auto nt, int t) {
    q6_K_tokens<decltype(nt)::value>(w, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  });
}

}  // namespace

void register_interleaved_k_kernels(KernelTable& table) {
  // Only the multi-token products, as for Q4_0 and Q8_0 (interleaved_kernels.cpp).
  table.weights[static_cast<uint32_t>(DType::Q4_K)].gemm_interleaved = gemm_k_interleaved<Q4_KCodes>;
  table.weights[static_cast<uint32_t>(DType::Q5_K)].gemm_interleaved = gemm_k_interleaved<Q5_KCodes>;
  table.weights[static_cast<uint32_t>(DType::Q6_K)].gemm_interleaved = gemm_q6_K_interleaved;
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
