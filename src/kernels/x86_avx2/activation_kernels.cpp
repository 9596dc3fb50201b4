// AVX2 softmax and SwiGLU on a vector exponential of our own, eight lanes at a time. glibc's
// scalar expf cost 6.3 ns a call here, and at a depth of 4096 tokens a TinyLlama-shaped token
// takes 2.9 million of them in attention's softmax alone. Within 1.22 x 2^-24 relative of the
// exact exponential (glibc's: 1.0; test_kernels_activation holds both to 2). Every lane, tails
// included, goes through the same vector code, so a result depends only on its inputs, never on
// where a row or a thread's piece starts.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"

namespace loam {
namespace avx2 {
namespace {

// e^x = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 (|r| <= ln 2 / 2), ln 2 split in two
// floats so that n ln 2 is subtracted with no rounding worth counting (Cody and Waite). e^r is its
// Taylor polynomial to degree 7: the first term left out, r^8 / 8!, is under 5.1e-9 for |r| <=
// 0.347, 1/24 of a float's ulp at 1, so the error is Horner's rounding alone.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693147182464599609375f;  // ln 2 rounded to float
constexpr float kLn2Lo = static_cast<float>(0.6931471805599453094 - 0.693147182464599609375);
// Above ln(FLT_MAX) e^x is +inf, as glibc's. Below -86, e^x (< 4.5e-38) is returned as 0 instead of
// a value near the smallest normal float: 2^(n-1) below is then always a normal float, and neither
// use can see the difference (a softmax sum holds a 1; 1 + e^x rounds to 1 for these x).
constexpr float kExpOverflow = 88.72283935546875f;
constexpr float kExpFlush = -86.0f;
// A builtin, not std::numeric_limits: an inline library function instantiated in this file would
// be compiled with AVX2 flags and could be the copy the linker keeps (check_isa_symbols.sh).
constexpr float kInf = __builtin_inff();

inline __m256 exp8(__m256 x) {
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^(n-1) from its exponent field, then a doubling: n reaches 128 just below the overflow bound,
  // where 2^n itself has no float. Both products by powers of two are exact.
  const __m256i n_int = _mm256_cvtps_epi32(n);
  const __m256 half_scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n_int, _mm256_set1_epi32(126)), 23));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, half_scale), _mm256_set1_ps(2.0f));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(kExpFlush), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(kInf),
                       _mm256_cmp_ps(x, _mm256_set1_ps(kExpOverflow), _CMP_GT_OQ));
  return y;  // a NaN x stays NaN through p
}

// Applies `fn` (which takes and returns eight lanes) to x[0..n): the tail through a copy padded
// with `pad`, so it runs the same vector code as the rest.
template <class Fn>
inline void for_lanes(const float* x, int64_t n, float pad, Fn fn) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) fn(i, _mm256_loadu_ps(x + i), 8);
  if (i < n) {
    alignas(32) float tail[8];
    for (int k = 0; k < 8; ++k) tail[k] = pad;
    std::memcpy(tail, x + i, static_cast<size_t>(n - i) * sizeof(float));
    fn(i, _mm256_load_ps(tail), static_cast<int>(n - i));
  }
}

inline void store_lanes(float* y, __m256 v, int count) {
  if (count == 8) {
    _mm256_storeu_ps(y, v);
  } else {
    alignas(32) float tail[8];
    _mm256_store_ps(tail, v);
    std::memcpy(y, tail, static_cast<size_t>(count) * sizeof(float));
  }
}

// The scalar order's steps (scale, max, shifted exponentials summed in double, one reciprocal),
// with the sum in two vectors of four double lanes: a fixed order for each n.
void softmax(float* x, int64_t n, float scale) {
  if (n <= 0) return;
  const float neg_inf = -kInf;
  const __m256 s = _mm256_set1_ps(scale);
  __m256 max8 = _mm256_set1_ps(neg_inf);
  for_lanes(x, n, neg_inf, [&](int64_t i, __m256 v, int count) {
    v = _mm256_mul_ps(v, s);  // the padding stays -inf
    store_lanes(x + i, v, count);
    max8 = _mm256_max_ps(max8, v);
  });
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, max8);
  float max_v = lanes[0];
  for (int k = 1; k < 8; ++k) max_v = lanes[k] > max_v ? lanes[k] : max_v;
  const __m256 m = _mm256_set1_ps(max_v);
  __m256d sum_lo = _mm256_setzero_pd(), sum_hi = _mm256_setzero_pd();
  for_lanes(x, n, neg_inf, [&](int64_t i, __m256 v, int count) {
    const __m256 e = exp8(_mm256_sub_ps(v, m));  // padding: e^-inf = 0, adds nothing
    store_lanes(x + i, e, count);
    sum_lo = _mm256_add_pd(sum_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    sum_hi = _mm256_add_pd(sum_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  });
  alignas(32) double partial[4];
  _mm256_store_pd(partial, _mm256_add_pd(sum_lo, sum_hi));
  const double sum = (partial[0] + partial[2]) + (partial[1] + partial[3]);
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for_lanes(x, n, 0.0f, [&](int64_t i, __m256 v, int count) { store_lanes(x + i, _mm256_mul_ps(v, inv), count); });
}

void swiglu(float* gate, const float* up, int64_t n) {
  for_lanes(gate, n, 0.0f, [&](int64_t i, __m256 g, int count) {
    alignas(32) float up_tail[8] = {};
    const float* u = up + i;
    if (count < 8) {
      std::memcpy(up_tail, u, static_cast<size_t>(count) * sizeof(float));
      u = up_tail;
    }
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    store_lanes(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u)), count);
  });
}

}  // namespace

void register_activation_kernels(KernelTable& table) {
  table.softmax = softmax;
  table.swiglu = swiglu;
}

}  // namespace avx2
}  // namespace loam
