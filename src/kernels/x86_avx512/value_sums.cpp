// AVX-512 row_sum_heads over F32 and F16 rows: attention's P.V, the query heads of a group
// weighting the same value rows. Every output is its own chain of fused multiply-adds, acc =
// fma(a[r], v[r][i], acc) for r = 0, 1, ... from 0, whatever the vector width, so this gives the
// AVX2 kernels' bits (x86_avx2/float_kernels.cpp) with 16 outputs per instruction instead of 8:
// the AVX-512 table keeps one float order with the AVX2 one. A tile is up to 4 heads by 64 outputs
// (16 accumulators; each row's 64 values converted once for the 4 heads); rows go in blocks of
// kBlockRows, which stay in L1 while each tile of heads and outputs passes over them; the last
// n % 16 outputs through masked loads and stores. Each row fetches the one kPrefetchRows on (into
// L2, prefetch_ahead; the AVX2 kernels fetch into L1, as measured there): a
// decode token's value rows come from memory (the weights streamed since evict them), a head's
// slice of each (128 bytes for TinyLlama) every row_bytes, and the hardware prefetchers left
// attention waiting on them. Intel Xeon of issue 8, 2 threads, TinyLlama Q4_0 tg64 at depth 4096,
// 2 alternating rounds: AVX2 kernels 25.4-25.6 tok/s, these kernels without prefetching 24.1-24.8,
// with it (and f16_gemm.cpp's key rows likewise) 28.9-29.5; 8, 16 or 32 rows ahead within 2%.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/simd.h"
#include "kernels/x86_avx512/vnni_ops.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

constexpr int kMaxHeads = 4;
constexpr int64_t kBlockRows = 32;  // the AVX2 kernel's block: 32 rows of 64-128 F16 values
constexpr int64_t kPrefetchRows = 32;

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m512 full(const uint8_t* p) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p)); }
  static __m512 part(const uint8_t* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p));
  }
};

struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m512 full(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 part(const uint8_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};

// Heads [0, H) (weights a + h * a_stride, outputs y + h * y_stride) by outputs [i, i + 16 C), rows
// [r0, r1): the accumulators come from y and go back to it. kPart: only the lanes of mask exist in
// the last 16 outputs (the tail).
template <class L, int H, int C, bool kPart>
inline void tile(const float* a, size_t a_stride, const uint8_t* rows, size_t row_bytes, int64_t r0, int64_t r1,
                 int64_t i, __mmask16 mask, float* y, size_t y_stride) {
  const __mmask16 last = kPart ? mask : static_cast<__mmask16>(0xFFFF);
  __m512 acc[H][C];
  for (int h = 0; h < H; ++h)
    for (int c = 0; c < C; ++c)
      acc[h][c] = _mm512_maskz_loadu_ps(c == C - 1 ? last : 0xFFFF, y + h * y_stride + i + 16 * c);
  const uint8_t* p = rows + static_cast<size_t>(r0) * row_bytes + i * L::kBytes;
  for (int64_t r = r0; r < r1; ++r, p += row_bytes) {
    prefetch_ahead(p, kPrefetchRows * row_bytes, 16 * C * L::kBytes);  // the tile's part of that row
    __m512 v[C];
    for (int c = 0; c < C; ++c)
      v[c] = kPart && c == C - 1 ? L::part(p + 16 * c * L::kBytes, last) : L::full(p + 16 * c * L::kBytes);
    for (int h = 0; h < H; ++h) {
      const __m512 w = _mm512_set1_ps(a[h * a_stride + r]);
      for (int c = 0; c < C; ++c) acc[h][c] = _mm512_fmadd_ps(w, v[c], acc[h][c]);
    }
  }
  for (int h = 0; h < H; ++h)
    for (int c = 0; c < C; ++c)
      _mm512_mask_storeu_ps(y + h * y_stride + i + 16 * c, c == C - 1 ? last : 0xFFFF, acc[h][c]);
}

// Heads [0, H), every output, rows [r0, r1): 64 outputs at a time, then 32, then 16, then the rest.
template <class L, int H>
inline void heads_block(const float* a, size_t a_stride, const uint8_t* rows, size_t row_bytes, int64_t r0,
                        int64_t r1, int64_t n, float* y, size_t y_stride) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) tile<L, H, 4, false>(a, a_stride, rows, row_bytes, r0, r1, i, 0, y, y_stride);
  for (; i + 32 <= n; i += 32) tile<L, H, 2, false>(a, a_stride, rows, row_bytes, r0, r1, i, 0, y, y_stride);
  for (; i + 16 <= n; i += 16) tile<L, H, 1, false>(a, a_stride, rows, row_bytes, r0, r1, i, 0, y, y_stride);
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
    tile<L, H, 1, true>(a, a_stride, rows, row_bytes, r0, r1, i, mask, y, y_stride);
  }
}

// RowSumHeadsFn.
template <class L>
void row_sum_heads(const float* a, size_t a_stride, int n_heads, const uint8_t* rows, size_t row_bytes,
                   int64_t n_rows, int64_t n, float* y, size_t y_stride) {
  for (int h = 0; h < n_heads; ++h) std::memset(y + h * y_stride, 0, static_cast<size_t>(n) * sizeof(float));
  for (int64_t r0 = 0; r0 < n_rows; r0 += kBlockRows) {
    const int64_t r1 = n_rows - r0 > kBlockRows ? r0 + kBlockRows : n_rows;
    for (int h = 0; h < n_heads; h += kMaxHeads) {
      const float* ah = a + h * a_stride;
      float* yh = y + h * y_stride;
      switch (n_heads - h < kMaxHeads ? n_heads - h : kMaxHeads) {
        case 1: heads_block<L, 1>(ah, a_stride, rows, row_bytes, r0, r1, n, yh, y_stride); break;
        case 2: heads_block<L, 2>(ah, a_stride, rows, row_bytes, r0, r1, n, yh, y_stride); break;
        case 3: heads_block<L, 3>(ah, a_stride, rows, row_bytes, r0, r1, n, yh, y_stride); break;
        default: heads_block<L, 4>(ah, a_stride, rows, row_bytes, r0, r1, n, yh, y_stride); break;
      }
    }
  }
}

}  // namespace

void register_value_sums(KernelTable& table) {
  table.row_sum_heads[static_cast<uint32_t>(DType::F32)] = row_sum_heads<LoadF32>;
  table.row_sum_heads[static_cast<uint32_t>(DType::F16)] = row_sum_heads<LoadF16>;
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
