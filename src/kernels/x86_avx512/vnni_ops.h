// Small operations the AVX-512 VNNI kernels over interleaved weights share, each for one 8-row group
// (256 bits) and for two (512 bits), so that one kernel template serves both widths; and two that
// the float kernels (f16_gemm.cpp, value_sums.cpp) use as well: prefetch_ahead and in_token_passes.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/x86_avx512/simd.h"

namespace loam {
namespace LOAM_AVX512_NS {
// In an anonymous namespace: under test the intrinsics are a model with internal linkage
// (tests/avx512_emulation/simd_emulated.h), so these must have it too.
namespace {

inline int32_t load_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The same operations on one 8-row group (256 bits) or two (512 bits).
inline __m256i load_runs(const uint8_t* run) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(run)); }
inline __m512i load_runs(const uint8_t* run0, const uint8_t* run1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load_runs(run0)), load_runs(run1), 1);
}
inline __m256i dpbusd(__m256i s, __m256i u, const uint8_t* a) { return _mm256_dpbusd_epi32(s, u, _mm256_set1_epi32(load_i32(a))); }
inline __m512i dpbusd(__m512i s, __m512i u, const uint8_t* a) { return _mm512_dpbusd_epi32(s, u, _mm512_set1_epi32(load_i32(a))); }
inline __m256i low_nibbles(__m256i q) { return _mm256_and_si256(q, _mm256_set1_epi8(0x0F)); }
inline __m512i low_nibbles(__m512i q) { return _mm512_and_si512(q, _mm512_set1_epi8(0x0F)); }
inline __m256i high_nibbles(__m256i q) { return low_nibbles(_mm256_srli_epi16(q, 4)); }
inline __m512i high_nibbles(__m512i q) { return low_nibbles(_mm512_srli_epi16(q, 4)); }
inline __m256i plus_128(__m256i q) { return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))); }
inline __m512i plus_128(__m512i q) { return _mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80))); }
inline __m256 scales(const uint8_t* col) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col))); }
inline __m512 scales(const uint8_t* col0, const uint8_t* col1) {
  return _mm512_cvtph_ps(_mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col0))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(col1)), 1));
}
inline __m256 convert(__m256i s) { return _mm256_cvtepi32_ps(s); }
inline __m512 convert(__m512i s) { return _mm512_cvtepi32_ps(s); }
inline __m256 fmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
inline __m512 fmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
inline __m256 mul(__m256 a, float b) { return _mm256_mul_ps(a, _mm256_set1_ps(b)); }
inline __m512 mul(__m512 a, float b) { return _mm512_mul_ps(a, _mm512_set1_ps(b)); }
inline void set1(__m256i& v, int32_t x) { v = _mm256_set1_epi32(x); }
inline void set1(__m512i& v, int32_t x) { v = _mm512_set1_epi32(x); }
inline __m256i mullo(__m256i a, __m256i b) { return _mm256_mullo_epi32(a, b); }
inline __m512i mullo(__m512i a, __m512i b) { return _mm512_mullo_epi32(a, b); }
inline __m256i add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
inline __m512i add(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
inline __m256 sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
inline __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
inline void store(float* y, __m256 v) { _mm256_storeu_ps(y, v); }
inline void store(float* y, __m512 v) { _mm512_storeu_ps(y, v); }
inline void zero(__m256i& v) { v = _mm256_setzero_si256(); }
inline void zero(__m512i& v) { v = _mm512_setzero_si512(); }
inline void zero(__m256& v) { v = _mm256_setzero_ps(); }
inline void zero(__m512& v) { v = _mm512_setzero_ps(); }
// Bytes p[0..7] of each group, one per 32-bit lane (unsigned).
inline __m256i bytes_to_lanes(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i bytes_to_lanes(const uint8_t* p0, const uint8_t* p1) {
  return _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0)),
                                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1))));
}
// Bit J of every byte moved to bit 4, the rest cleared (16-bit shifts: bits crossing a byte are
// masked away).
template <int J>
inline __m256i bit_to_4(__m256i v) {
  const __m256i moved = J <= 4 ? _mm256_slli_epi16(v, 4 - J) : _mm256_srli_epi16(v, J - 4);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}
template <int J>
inline __m512i bit_to_4(__m512i v) {
  const __m512i moved = J <= 4 ? _mm512_slli_epi16(v, 4 - J) : _mm512_srli_epi16(v, J - 4);
  return _mm512_and_si512(moved, _mm512_set1_epi8(0x10));
}
inline __m256i bit_and(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
inline __m512i bit_and(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
inline __m256i slli16(__m256i a, int n) { return _mm256_slli_epi16(a, n); }
inline __m512i slli16(__m512i a, int n) { return _mm512_slli_epi16(a, n); }
inline __m256i srli16(__m256i a, int n) { return _mm256_srli_epi16(a, n); }
inline __m512i srli16(__m512i a, int n) { return _mm512_srli_epi16(a, n); }
inline __m256i slli32(__m256i a, int n) { return _mm256_slli_epi32(a, n); }
inline __m512i slli32(__m512i a, int n) { return _mm512_slli_epi32(a, n); }
inline __m256i srai32(__m256i a, int n) { return _mm256_srai_epi32(a, n); }
inline __m512i srai32(__m512i a, int n) { return _mm512_srai_epi32(a, n); }
inline __m256i sub32(__m256i a, __m256i b) { return _mm256_sub_epi32(a, b); }
inline __m512i sub32(__m512i a, __m512i b) { return _mm512_sub_epi32(a, b); }
inline __m256i bit_or(__m256i a, __m256i b) { return _mm256_or_si256(a, b); }
inline __m512i bit_or(__m512i a, __m512i b) { return _mm512_or_si512(a, b); }

// Fetches `bytes` from `ahead` bytes past p (a column of a later row group, a later cache row) into
// L2, the address computed as an integer: past the last group or row it lies outside the data,
// which a prefetch may touch but pointer arithmetic may not reach.
inline void prefetch_ahead(const uint8_t* p, size_t ahead, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p) + ahead;
  for (size_t l = 0; l < bytes; l += 64) __builtin_prefetch(reinterpret_cast<const void*>(a + l), 0, 2);
}

// Tokens 0..n_tokens-1 in passes of Max, the rest in one pass: run(std::integral_constant<int, NT>,
// first token) for each pass, so every count up to Max gets its own unrolled kernel.
template <int NT, int Max, class Run>
inline void run_count(int n, int first, Run& run) {
  if constexpr (NT <= Max) {
    if (n == NT) run(std::integral_constant<int, NT>(), first);
    else run_count<NT + 1, Max>(n, first, run);
  }
}
template <int Max, class Run>
inline void in_token_passes(int n_tokens, Run run) {
  for (int t = 0; t < n_tokens; t += Max) run_count<1, Max>(n_tokens - t < Max ? n_tokens - t : Max, t, run);
}

}  // namespace
}  // namespace LOAM_AVX512_NS
}  // namespace loam
