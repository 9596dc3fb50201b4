// Small numeric building blocks of the forward pass, kept apart so tests can check each against
// hand-computed values.
#pragma once

#include <cstdint>

namespace loam {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]
void rmsnorm(float* out, const float* x, const float* w, int n, float eps);

// Rotates adjacent pairs (x[2i], x[2i+1]) of each head by pos * base^(-2i/n_rot), for i < n_rot/2;
// dimensions at or beyond n_rot are left as they are. cos/sin are the rows of a rope cache for
// this position: cos_row[i] = cos(pos * theta_i).
void rope_apply(float* x, int n_heads, int head_dim, int n_rot, const float* cos_row,
                const float* sin_row);

// Fills cos/sin tables [n_pos][n_rot/2] with angle pos * base^(-2i/n_rot) / freq_factors[i],
// computed in double. freq_factors [n_rot/2] are Llama 3.1's rope scaling (the file's
// rope_freqs.weight, divided into the angle as llama.cpp's ggml_rope_ext does); nullptr = all 1.
void rope_build_cache(float* cos_out, float* sin_out, int n_pos, int n_rot, float freq_base,
                      const float* freq_factors = nullptr);

// gate[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x))
void swiglu(float* gate, const float* up, int n);

// In-place softmax that subtracts the max first so large inputs do not overflow.
void softmax(float* x, int n);

}  // namespace loam
