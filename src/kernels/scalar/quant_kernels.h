// Scalar integer dot products of quantized weight rows with quantized activations, and their
// registration in the scalar KernelTable. They are the specification the SIMD kernels are tested
// against: integer sums per block, scaled to float once per block, blocks summed in order.
#pragma once

#include <cstdint>

#include "kernels/kernel_table.h"

namespace loam {

// dot(weight row, activation row) over n elements (a multiple of the weight's block). `w` points
// at n / block weight blocks, `x` at the matching activation blocks: Q8_0 for the 32-element
// types, Q8_K for the K types.
float dot_q8_0_q8_0(const void* w, const void* x, int64_t n);
float dot_q4_0_q8_0(const void* w, const void* x, int64_t n);
float dot_q4_1_q8_0(const void* w, const void* x, int64_t n);
float dot_q5_0_q8_0(const void* w, const void* x, int64_t n);
float dot_q5_1_q8_0(const void* w, const void* x, int64_t n);
float dot_q4_K_q8_K(const void* w, const void* x, int64_t n);
float dot_q5_K_q8_K(const void* w, const void* x, int64_t n);
float dot_q6_K_q8_K(const void* w, const void* x, int64_t n);

// Sets gemv and act_type for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K weights, and the
// Q8_0 / Q8_K activation quantizers.
void register_scalar_quant_kernels(KernelTable& table);

}  // namespace loam
