// AVX-512 VNNI kernels over Q4_0 and Q8_0 weights in the interleaved layout (quant/interleave.h:
// per group of 8 rows and block column, the 8 rows' f16 scales, then 32-byte runs holding 4 code
// bytes of each row, one row per 32-bit lane: four runs of nibbles for Q4_0, eight of bytes for
// Q8_0).
//
// They compute exactly what the AVX2 interleaved kernels do (x86_avx2/interleaved_kernels.cpp),
// bit for bit, with fewer instructions: per row the integer block sum sum(q * a) is exact however
// it is formed, here one vpdpbusd per 4 codes of every row (instead of maddubs + madd + add, and
// for Q8_0 the sign juggling around them) over the codes made unsigned (Q4_0's stored nibbles are
// q + 8, Q8_0's bytes get 128 added by flipping their top bit), starting from -offset * sum(a); the
// float operations per row and block are the AVX2 kernels' (one fused multiply-add of the
// converted sum by d_w * d_x, blocks in order). So the AVX-512 table can use these for prompts and
// batches while its one-token results stay those of the AVX2 gemv. Up to 8 tokens share each
// unpacking of the weights, and two groups of 8 rows share each 512-bit register.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/simd.h"
#include "kernels/x86_avx512/vnni_ops.h"
#include "quant/blocks.h"
#include "quant/interleave.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

constexpr int kGroupRows = 8;
constexpr size_t kScaleBytes = 2 * kGroupRows;
constexpr int64_t kChunkBlocks = 1024;  // activation blocks prepared per pass over the rows
// Tokens per pass over the weights. On the Intel Xeon of issue 8 (Sapphire Rapids class, 2 threads,
// TinyLlama-shaped files, pp512, two alternating rounds) 8 beat 4: Q8_0 186 -> 204 tok/s, Q4_0
// 231 -> 254. On an AMD EPYC with AVX-512, Q4_0 measured the other way (4: 512-token prompts
// 133 tok/s against 122, 8 sequences decoding together 127 against 118).
constexpr int kMaxTokens = 8;

// Q4_0: four runs per column; run i holds elements 4i..4i+3 in its low nibbles and 16+4i.. in its
// high ones, stored as q + 8.
struct Q4_0Codes {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
  static constexpr int kRuns = 4;
  static constexpr char kOffset = 8;
  template <int NT, class V>
  static void add_run(V (&s)[NT], V q, const uint8_t* const (&a)[NT], int i) {
    const V lo = low_nibbles(q), hi = high_nibbles(q);
    for (int t = 0; t < NT; ++t) {
      s[t] = dpbusd(s[t], lo, a[t] + 4 * i);
      s[t] = dpbusd(s[t], hi, a[t] + 16 + 4 * i);
    }
  }
};

// Q8_0: eight runs per column; run i holds elements 4i..4i+3 as signed bytes, made q + 128.
struct Q8_0Codes {
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  static constexpr int kRuns = 8;
  static constexpr char kOffset = static_cast<char>(0x80);  // 128 as the unsigned vpdpbusd operand
  template <int NT, class V>
  static void add_run(V (&s)[NT], V q, const uint8_t* const (&a)[NT], int i) {
    const V u = plus_128(q);
    for (int t = 0; t < NT; ++t) s[t] = dpbusd(s[t], u, a[t] + 4 * i);
  }
};

// y_t[r] for tokens t < NT (activations x + t * x_stride, results y + t * y_stride).
template <class C, int NT>
void interleaved_vnni(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                      size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  constexpr size_t kColumnBytes = kGroupRows * C::kBlockBytes;  // one block of each of 8 rows
  // Below, the weights of one block column of the group that comes next are fetched while this
  // one is computed (as the AVX2 kernels do): at 8 tokens a pass is long enough that the hardware
  // prefetcher alone leaves the next group's first lines late (measured on Q4_0: 8 sequences
  // decoding together ran 83 tok/s without, against 109 for the AVX2 kernel that prefetches).
  const int64_t n_blocks = n_cols / kQK;
  const size_t group_bytes = kGroupRows * row_bytes;
  alignas(32) float dx[NT][kChunkBlocks];       // [token][block] activation scale
  alignas(32) int32_t bias[NT][kChunkBlocks];   // [token][block] -offset x the sum of the codes
  if (n_blocks == 0) {
    for (int t = 0; t < NT; ++t)
      for (int64_t r = 0; r < n_rows; ++r) y[t * y_stride + r] = 0.0f;
    return;
  }
  for (int64_t c0 = 0; c0 < n_blocks; c0 += kChunkBlocks) {
    const int64_t nb = n_blocks - c0 < kChunkBlocks ? n_blocks - c0 : kChunkBlocks;
    const BlockQ8_0* xc[NT];
    for (int t = 0; t < NT; ++t) {
      xc[t] = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride) + c0;
      for (int64_t b = 0; b < nb; ++b) {
        dx[t][b] = _cvtsh_ss(xc[t][b].d);
        // offset x the sum of the codes: vpdpbusd of the offset bytes with the codes, folded to
        // four lanes.
        const __m256i sums = _mm256_dpbusd_epi32(
            _mm256_setzero_si256(), _mm256_set1_epi8(C::kOffset),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xc[t][b].qs)));
        const __m128i four = _mm_add_epi32(_mm256_castsi256_si128(sums),
                                           _mm256_extracti128_si256(sums, 1));
        int32_t lanes[4];
        std::memcpy(lanes, &four, sizeof lanes);
        bias[t][b] = -(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
      }
    }
    int64_t r0 = 0;
    // Two groups (16 rows) per 512-bit register: every activation broadcast and vpdpbusd serves
    // both, lane r of the pair's vectors being row r0 + r.
    for (; r0 + 2 * kGroupRows <= n_rows; r0 += 2 * kGroupRows) {
      const uint8_t* g0 = w + static_cast<size_t>(r0 / kGroupRows) * group_bytes +
                          static_cast<size_t>(c0) * kColumnBytes;
      const uint8_t* g1 = g0 + group_bytes;
      __m512 acc[NT];  // [token] lane r: row r0 + r's running sum
      for (int t = 0; t < NT; ++t)
        acc[t] = c0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(y + t * y_stride + r0);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* col0 = g0 + static_cast<size_t>(b) * kColumnBytes;
        const uint8_t* col1 = g1 + static_cast<size_t>(b) * kColumnBytes;
        prefetch_ahead(col0, 2 * group_bytes, kColumnBytes);
        prefetch_ahead(col1, 2 * group_bytes, kColumnBytes);
        __m512i s[NT];
        const uint8_t* a[NT];
        for (int t = 0; t < NT; ++t) {
          set1(s[t], bias[t][b]);
          a[t] = reinterpret_cast<const uint8_t*>(xc[t][b].qs);
        }
        for (int i = 0; i < C::kRuns; ++i)
          C::add_run(s, load_runs(col0 + kScaleBytes + 32 * i, col1 + kScaleBytes + 32 * i), a, i);
        const __m512 d = scales(col0, col1);
        for (int t = 0; t < NT; ++t) acc[t] = fmadd(convert(s[t]), mul(d, dx[t][b]), acc[t]);
      }
      for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * y_stride + r0, acc[t]);
    }
    for (; r0 < n_rows; r0 += kGroupRows) {
      const uint8_t* group = w + static_cast<size_t>(r0 / kGroupRows) * group_bytes +
                             static_cast<size_t>(c0) * kColumnBytes;
      __m256 acc[NT];  // [token] lane r: row r's running sum
      for (int t = 0; t < NT; ++t)
        acc[t] = c0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(y + t * y_stride + r0);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* col = group + static_cast<size_t>(b) * kColumnBytes;
        prefetch_ahead(col, group_bytes, kColumnBytes);
        __m256i s[NT];  // [token] lane r: row r's integer block sum
        const uint8_t* a[NT];
        for (int t = 0; t < NT; ++t) {
          set1(s[t], bias[t][b]);
          a[t] = reinterpret_cast<const uint8_t*>(xc[t][b].qs);
        }
        for (int i = 0; i < C::kRuns; ++i) C::add_run(s, load_runs(col + kScaleBytes + 32 * i), a, i);
        const __m256 d = scales(col);
        for (int t = 0; t < NT; ++t) acc[t] = fmadd(convert(s[t]), mul(d, dx[t][b]), acc[t]);
      }
      for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * y_stride + r0, acc[t]);
    }
  }
}

template <class C>
void gemm_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                      size_t x_stride, int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  in_token_passes<kMaxTokens>(n_tokens, [&](auto nt, int t) {
    interleaved_vnni<C, decltype(nt)::value>(w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols,
                                             y + t * y_stride, y_stride);
  });
}

}  // namespace

void register_interleaved_kernels(KernelTable& table) {
  // Only the multi-token products: for one token (decode, memory-bound) the AVX2 kernels are as
  // fast and stay (dispatch.cpp).
  table.weights[static_cast<uint32_t>(DType::Q4_0)].gemm_interleaved = gemm_interleaved<Q4_0Codes>;
  table.weights[static_cast<uint32_t>(DType::Q8_0)].gemm_interleaved = gemm_interleaved<Q8_0Codes>;
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
