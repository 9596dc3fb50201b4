// AVX-512 VNNI kernels over Q4_0 weights in the interleaved layout (quant/interleave.h: per group
// of 8 rows and block column, the 8 rows' f16 scales, then four 32-byte runs holding 4 code bytes
// of each row, one row per 32-bit lane).
//
// They compute exactly what the AVX2 interleaved kernel does (x86_avx2/interleaved_kernels.cpp),
// bit for bit, with fewer instructions: per row the integer block sum sum((q - 8) * a) is exact
// however it is formed, here one vpdpbusd per 4 codes of every row instead of maddubs + add +
// madd, starting from -8 * sum(a); the float operations per row and block are the AVX2 kernel's
// (one fused multiply-add of the converted sum by d_w * d_x, blocks in order). So the AVX-512
// table can use this for prompts and batches while its one-token results stay those of the
// AVX2 gemv. Up to 4 tokens share each unpacking of the weights, and two groups of 8 rows share
// each 512-bit register.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/simd.h"
#include "quant/blocks.h"
#include "quant/interleave.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

constexpr int kGroupRows = 8;
constexpr size_t kScaleBytes = 2 * kGroupRows;
constexpr size_t kColumnBytes = kGroupRows * sizeof(BlockQ4_0);  // one block of each of 8 rows
constexpr int64_t kChunkBlocks = 1024;  // activation blocks prepared per pass over the rows
// Tokens per pass over the weights. 8 would fit the registers, but measured on an AMD EPYC (2
// threads, TinyLlama-shaped Q4_0) 4 is as fast or faster: 8 sequences decoding together 127 vs
// 118 tok/s, 512-token prompts 133 vs 122 tok/s.
constexpr int kMaxTokens = 4;

// The weights of one block column of the group that comes next, fetched while this one is
// computed (as the AVX2 kernel does): at 8 tokens a pass is long enough that the hardware
// prefetcher alone leaves the next group's first lines late (measured: 8 sequences decoding
// together ran 83 tok/s without, against 109 for the AVX2 kernel that prefetches).
inline void prefetch_column(const uint8_t* column) {
  for (size_t l = 0; l < kColumnBytes; l += 64) __builtin_prefetch(column + l, 0, 2);
}

inline int32_t load_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// y_t[r] for tokens t < NT (activations x + t * x_stride, results y + t * y_stride).
template <int NT>
void q4_0_interleaved_vnni(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                           size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  const int64_t n_blocks = n_cols / kQK;
  const size_t group_bytes = kGroupRows * row_bytes;
  alignas(32) float dx[NT][kChunkBlocks];       // [token][block] activation scale
  alignas(32) int32_t bias[NT][kChunkBlocks];   // [token][block] -8 x the sum of the codes
  if (n_blocks == 0) {
    for (int t = 0; t < NT; ++t)
      for (int64_t r = 0; r < n_rows; ++r) y[t * y_stride + r] = 0.0f;
    return;
  }
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  for (int64_t c0 = 0; c0 < n_blocks; c0 += kChunkBlocks) {
    const int64_t nb = n_blocks - c0 < kChunkBlocks ? n_blocks - c0 : kChunkBlocks;
    const BlockQ8_0* xc[NT];
    for (int t = 0; t < NT; ++t) {
      xc[t] = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride) + c0;
      for (int64_t b = 0; b < nb; ++b) {
        dx[t][b] = _cvtsh_ss(xc[t][b].d);
        // 8 x the sum of the codes: vpdpbusd of 8s with the codes, folded to four lanes.
        const __m256i eights = _mm256_dpbusd_epi32(
            _mm256_setzero_si256(), _mm256_set1_epi8(8),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xc[t][b].qs)));
        const __m128i four = _mm_add_epi32(_mm256_castsi256_si128(eights),
                                           _mm256_extracti128_si256(eights, 1));
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
      const __m512i low_nibbles16 = _mm512_set1_epi8(0x0F);
      __m512 acc[NT];  // [token] lane r: row r0 + r's running sum
      for (int t = 0; t < NT; ++t)
        acc[t] = c0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(y + t * y_stride + r0);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* col0 = g0 + static_cast<size_t>(b) * kColumnBytes;
        const uint8_t* col1 = g1 + static_cast<size_t>(b) * kColumnBytes;
        prefetch_column(col0 + 2 * group_bytes);
        prefetch_column(col1 + 2 * group_bytes);
        __m512i s[NT];
        for (int t = 0; t < NT; ++t) s[t] = _mm512_set1_epi32(bias[t][b]);
        for (int i = 0; i < 4; ++i) {
          const __m512i q = _mm512_inserti64x4(
              _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(col0 + kScaleBytes + 32 * i))),
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col1 + kScaleBytes + 32 * i)), 1);
          const __m512i lo = _mm512_and_si512(q, low_nibbles16);
          const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low_nibbles16);
          for (int t = 0; t < NT; ++t) {
            const uint8_t* a = reinterpret_cast<const uint8_t*>(xc[t][b].qs);
            s[t] = _mm512_dpbusd_epi32(s[t], lo, _mm512_set1_epi32(load_i32(a + 4 * i)));
            s[t] = _mm512_dpbusd_epi32(s[t], hi, _mm512_set1_epi32(load_i32(a + 16 + 4 * i)));
          }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col0))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(col1)), 1));
        for (int t = 0; t < NT; ++t)
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(d, _mm512_set1_ps(dx[t][b])), acc[t]);
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
        prefetch_column(col + group_bytes);
        __m256i s[NT];  // [token] lane r: row r's integer block sum
        for (int t = 0; t < NT; ++t) s[t] = _mm256_set1_epi32(bias[t][b]);
        for (int i = 0; i < 4; ++i) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + kScaleBytes + 32 * i));
          const __m256i lo = _mm256_and_si256(q, low_nibbles);                       // elements 4i..
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_nibbles);  // 16+4i..
          for (int t = 0; t < NT; ++t) {
            const uint8_t* a = reinterpret_cast<const uint8_t*>(xc[t][b].qs);
            s[t] = _mm256_dpbusd_epi32(s[t], lo, _mm256_set1_epi32(load_i32(a + 4 * i)));
            s[t] = _mm256_dpbusd_epi32(s[t], hi, _mm256_set1_epi32(load_i32(a + 16 + 4 * i)));
          }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col)));
        for (int t = 0; t < NT; ++t)
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(d, _mm256_set1_ps(dx[t][b])), acc[t]);
      }
      for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * y_stride + r0, acc[t]);
    }
  }
}

template <int NT>
void run_tokens(const uint8_t* w, size_t row_bytes, int64_t n_rows, const uint8_t* x,
                size_t x_stride, int64_t n_cols, float* y, size_t y_stride) {
  q4_0_interleaved_vnni<NT>(w, row_bytes, n_rows, x, x_stride, n_cols, y, y_stride);
}

// Tokens in groups of kMaxTokens, then the rest in one pass.
void gemm_q4_0_interleaved(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                           size_t x_stride, int n_tokens, int64_t n_cols, float* y, size_t y_stride) {
  using Fn = void (*)(const uint8_t*, size_t, int64_t, const uint8_t*, size_t, int64_t, float*, size_t);
  static constexpr Fn kByCount[kMaxTokens + 1] = {nullptr, run_tokens<1>, run_tokens<2>,
                                                  run_tokens<3>, run_tokens<4>};
  const uint8_t* xt = static_cast<const uint8_t*>(x);
  for (int t = 0; t < n_tokens; t += kMaxTokens) {
    const int n = n_tokens - t < kMaxTokens ? n_tokens - t : kMaxTokens;
    kByCount[n](w, row_bytes, n_rows, xt + t * x_stride, x_stride, n_cols, y + t * y_stride, y_stride);
  }
}

}  // namespace

void register_interleaved_kernels(KernelTable& table) {
  TypeKernels& q4_0 = table.weights[static_cast<uint32_t>(DType::Q4_0)];
  // Only the multi-token product: for one token (decode, memory-bound) the AVX2 kernel is as
  // fast and stays (dispatch.cpp).
  q4_0.gemm_interleaved = gemm_q4_0_interleaved;
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
