// NEON quantized gemv for every AArch64 CPU (ARMv8.0): 16-lane int8 dot products as two widening
// multiplies (SMULL/SMULL2; int8 x int8 fits int16) added pairwise into int32. Registered when the
// CPU lacks dotprod; quant_kernels_dotprod.cpp is the SDOT version.
#include "kernels/arm_neon/quant_dot.h"

namespace loam {
namespace neon {
namespace {

struct DotWiden {
  // Lane i receives products 4i..4i+3, the same grouping SDOT uses, so the float lanes built from
  // these sums (quant_dot.h) round identically and both paths give the same bits. Pairs are
  // widened to int32 before the second addition: two products of -128 * -128 overflow int16.
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
    const int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));  // [4] pair sums
    const int32x4_t hi = vpaddlq_s16(vmull_high_s8(a, b));
    return vaddq_s32(acc, vpaddq_s32(lo, hi));
  }
};

}  // namespace

void register_quant_kernels_widen(KernelTable& table) { register_quant_gemv<DotWiden>(table); }

}  // namespace neon
}  // namespace loam
