// AVX-512 float kernels: dot_f32 and axpy_f32 here; F16's gemm in f16_gemm.cpp. Float weights
// (F32, F16, BF16) otherwise run the AVX2 kernels on AVX-512 CPUs (dispatch.cpp keeps them on the
// avx512 table): the AVX2 set has a register-tiled gemm for prompts that gives its gemv's bits,
// where this file had a one-row gemv only, so prompts ran as one gemv per token. Measured: on the
// Intel Xeon of issue 8 (AVX-512 VNNI and BF16), before either set had a float gemm, that gemv read
// F16 prompts only 1.18x as fast as the AVX2 one (pp128 58 vs 49 tok/s, 2 threads) and decoded
// slower (tg32 12.2 vs 13.4); on an AVX2 EPYC (no AVX-512) the AVX2 F16 prompt path without its
// gemm, one gemv per token over the same row chunks, ran pp512 at 35.5 tok/s against 83 with it.
// The float order is then the AVX2 one, and an AVX-512 CPU gives the AVX2 table's float results
// bit for bit; f16_gemm.cpp keeps that order in 512-bit registers (pp512 73 -> 110 tok/s there).
#include <cstdint>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/x86_avx512/simd.h"

namespace loam {
namespace LOAM_AVX512_NS {
namespace {

// Two accumulators over 32 values a step, the last n % 16 through a masked load; their lanes
// summed by _mm512_reduce_add_ps.
float dot_f32(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

}  // namespace

void register_quant_kernels(KernelTable& table);        // quant_kernels.cpp
void register_interleaved_kernels(KernelTable& table);  // interleaved_kernels.cpp
void register_interleaved_k_kernels(KernelTable& table);  // interleaved_k_kernels.cpp
void register_f16_gemm(KernelTable& table);  // f16_gemm.cpp
void register_value_sums(KernelTable& table);  // value_sums.cpp

void register_kernels(KernelTable& table) {
  table.dot_f32 = dot_f32;
  table.axpy_f32 = axpy_f32;
  register_quant_kernels(table);
  register_interleaved_kernels(table);
  register_interleaved_k_kernels(table);
  register_f16_gemm(table);
  register_value_sums(table);
}

}  // namespace LOAM_AVX512_NS
}  // namespace loam
