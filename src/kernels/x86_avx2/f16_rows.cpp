// F16 -> F32 conversion of a row with the F16C instruction, eight values at a time: the input side
// of `loam quantize` from an F16 file (and of F16 embedding lookups). vcvtph2ps is exact for every
// finite value and infinity; it quiets a signalling NaN, where the scalar conversion
// (core/fp16.h) keeps the payload as it is, so vectors holding an exponent of 31 take the scalar
// formula instead and every bit pattern converts as the scalar code converts it.
#include <immintrin.h>

#include <cstdint>

#include "core/fp16.h"  // static inline: internal linkage, safe in an ISA file
#include "kernels/kernel_table.h"

namespace loam {
namespace avx2 {
namespace {

void f16_to_f32(const uint16_t* h, float* out, int64_t n) {
  const __m128i exp_mask = _mm_set1_epi16(0x7c00);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    const __m128i special = _mm_cmpeq_epi16(_mm_and_si128(v, exp_mask), exp_mask);
    if (_mm_movemask_epi8(special) == 0) {
      _mm256_storeu_ps(out + i, _mm256_cvtph_ps(v));
    } else {
      for (int64_t k = i; k < i + 8; ++k) out[k] = fp16_to_fp32(h[k]);
    }
  }
  for (; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
}

}  // namespace

void register_f16_rows(KernelTable& table) { table.f16_to_f32 = f16_to_f32; }

}  // namespace avx2
}  // namespace loam
