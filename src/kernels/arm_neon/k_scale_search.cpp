// NEON lanes for the K quantizers' scale searches (kernels/k_scale_search_lanes.h): a Q4_K / Q5_K
// super-block's 8 sub-blocks 4 at a time, Q6_K's 16 groups 4 at a time. ARMv8.0 instructions only.
// Built with -ffp-contract=off (CMakeLists.txt): GCC contracts vmulq_f32 + vaddq_f32 into FMLA
// otherwise, which rounds once where the scalar search rounds twice.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/arm_neon/register.h"
#include "kernels/k_scale_search_lanes.h"

namespace loam {
namespace neon {
namespace {

struct Lanes4 {
  using F = float32x4_t;
  using I = int32x4_t;
  using M = uint32x4_t;
  static constexpr int kLanes = 4;
  static F zero() { return vdupq_n_f32(0.0f); }
  static F set1(float v) { return vdupq_n_f32(v); }
  static I set1_i(int v) { return vdupq_n_s32(v); }
  static F add(F a, F b) { return vaddq_f32(a, b); }
  static F sub(F a, F b) { return vsubq_f32(a, b); }
  static F mul(F a, F b) { return vmulq_f32(a, b); }
  static F div(F a, F b) { return vdivq_f32(a, b); }
  static F sqrt(F a) { return vsqrtq_f32(a); }
  static F abs(F a) { return vabsq_f32(a); }
  static F neg(F a) { return vnegq_f32(a); }
  static M lt(F a, F b) { return vcltq_f32(a, b); }
  static M gt(F a, F b) { return vcgtq_f32(a, b); }
  static M eq(F a, F b) { return vceqq_f32(a, b); }
  static M both(M a, M b) { return vandq_u32(a, b); }
  static F select(M m, F a, F b) { return vbslq_f32(m, a, b); }
  static I select_i(M m, I a, I b) { return vbslq_s32(m, a, b); }
  static bool any(M m) { return vmaxvq_u32(m) != 0; }
  // quant/quantize.h's round_nearest: add 1.5 * 2^23, keep the mantissa bits.
  static I round_nearest(F v) {
    const I bits = vreinterpretq_s32_f32(vaddq_f32(v, vdupq_n_f32(12582912.0f)));
    return vsubq_s32(vandq_s32(bits, vdupq_n_s32(0x007fffff)), vdupq_n_s32(0x00400000));
  }
  static I clamp(I l, I lo, I hi) { return vmaxq_s32(lo, vminq_s32(hi, l)); }
  static F to_float(I l) { return vcvtq_f32_s32(l); }
  static I truncate(F v) { return vcvtq_s32_f32(v); }
  static I add_i(I a, I b) { return vaddq_s32(a, b); }
  static F load_strided(const float* x, int stride) {
    const float lanes[kLanes] = {x[0], x[stride], x[2 * stride], x[3 * stride]};
    return vld1q_f32(lanes);
  }
  static void store(float* y, F v) { vst1q_f32(y, v); }
  static void store_i(int32_t* y, I v) { vst1q_s32(y, v); }
};

}  // namespace

void register_k_scale_search(KernelTable& table) {
  table.fit_k_sub_blocks = k_search::fit_k_sub_blocks<Lanes4>;
  table.fit_q6_k_groups = k_search::fit_q6_k_groups<Lanes4>;
}

}  // namespace neon
}  // namespace loam
