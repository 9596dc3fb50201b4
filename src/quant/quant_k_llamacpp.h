// K-type quantizers that make the same bytes as llama.cpp's llama-quantize (its reference
// quantizers quantize_row_q{4,5,6}_K_ref, used when no importance matrix is given), restated
// from their description: same candidate scales, same float operations in the same order.
//
// Why a second set next to quant/quantize.h's: that one refines the sub-block scale codes after
// the search and so reaches 2-4% lower RMS error, but its bytes differ from llama-quantize's in
// most blocks. On the synth-tiny model (random weights) a 1% weight error moves the logits by
// about 10%, so only byte-identical files reproduce the reference logits (../shared/golden) that
// `loam quantize`'s acceptance asks for; identical files can also be checked by hash. The
// 32-element types need no second version: quant/quantize.h's already match llama.cpp's bytes.
#pragma once

#include <cstdint>

#include "loam/dtype.h"
#include "quant/blocks.h"

namespace loam {

void quantize_row_q4_K_llamacpp(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_K_llamacpp(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_K_llamacpp(const float* x, BlockQ6_K* y, int64_t n);

// The scalar scale search of the Q4_K / Q5_K quantizers for the 8 sub-blocks of one super-block
// x[256] (kernels/kernel_table.h, FitKSubBlocksFn): the reference the SIMD searches must equal.
void fit_k_sub_blocks_scalar(const float* x, int nmax, float rmin, float rdelta, int nstep,
                             float* scales, float* neg_mins, uint8_t* L);

// The scalar scale search of the Q6_K quantizer for the 16 groups of 16 of one super-block x[256]
// (FitQ6KGroupsFn): the reference the SIMD searches must equal.
void fit_q6_k_groups_scalar(const float* x, int nmax, float* scales, int8_t* L);

// Any weight type as llama-quantize writes it: the K types above, the others through
// quantize_row(). False for a type quantize_row() refuses or n not a whole number of blocks.
bool quantize_row_llamacpp(DType type, const float* x, void* y, int64_t n);

}  // namespace loam
