// AVX2 lanes for the K quantizers' scale searches (kernels/k_scale_search_lanes.h): 8 sub-blocks of
// a Q4_K / Q5_K super-block at once, Q6_K's 16 groups 8 at a time. Built with -ffp-contract=off
// (CMakeLists.txt): GCC would otherwise fuse the multiplications and additions into fused
// multiply-adds, which round once where the scalar search rounds twice.
#include <immintrin.h>

#include <cstdint>

#include "kernels/k_scale_search_lanes.h"
#include "kernels/kernel_table.h"

namespace loam {
namespace avx2 {
namespace {

struct Lanes8 {
  using F = __m256;
  using I = __m256i;
  using M = __m256;  // all-ones lanes where true, as the comparisons return
  static constexpr int kLanes = 8;
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static I set1_i(int v) { return _mm256_set1_epi32(v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  static F abs(F a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static F neg(F a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M both(M a, M b) { return _mm256_and_ps(a, b); }
  static F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, m); }
  static I select_i(M m, I a, I b) { return _mm256_blendv_epi8(b, a, _mm256_castps_si256(m)); }
  static bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  // quant/quantize.h's round_nearest: add 1.5 * 2^23, keep the mantissa bits.
  static I round_nearest(F v) {
    const I bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
  }
  static I clamp(I l, I lo, I hi) { return _mm256_max_epi32(lo, _mm256_min_epi32(hi, l)); }
  static F to_float(I l) { return _mm256_cvtepi32_ps(l); }
  static I truncate(F v) { return _mm256_cvttps_epi32(v); }
  static I add_i(I a, I b) { return _mm256_add_epi32(a, b); }
  static F load_strided(const float* x, int stride) {
    const I offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
    return _mm256_i32gather_ps(x, offsets, 4);
  }
  static void store(float* y, F v) { _mm256_storeu_ps(y, v); }
  static void store_i(int32_t* y, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), v); }
};

}  // namespace

void register_k_scale_search(KernelTable& table) {
  table.fit_k_sub_blocks = k_search::fit_k_sub_blocks<Lanes8>;
  table.fit_q6_k_groups = k_search::fit_q6_k_groups<Lanes8>;
}

}  // namespace avx2
}  // namespace loam
