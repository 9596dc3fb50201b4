// NEON quantized gemv with the ARMv8.2 dot-product extension: SDOT sums four int8 products into
// each int32 lane in one instruction. Compiled with +dotprod (CMakeLists.txt) and registered only
// when cpu_features().neon_dotprod; it must include nothing with inline code other files share
// (quant_dot.h keeps its helpers private to this translation unit).
#include "kernels/arm_neon/quant_dot.h"

namespace loam {
namespace neon {
namespace {

struct DotSdot {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

}  // namespace

void register_quant_kernels_dotprod(KernelTable& table) { register_quant_gemv<DotSdot>(table); }

}  // namespace neon
}  // namespace loam
