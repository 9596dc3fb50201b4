#include "model/ops.h"

#include <cmath>

namespace loam {

void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
  // Squares in float, summed in double; mean, root and reciprocal in float. This is the order of
  // operations llama.cpp uses, and quantized models amplify a one-ulp difference in the scale
  // (it flips the rounding of some 8-bit activations), so matching it keeps us close to files'
  // reference outputs. The double sum keeps long rows accurate.
  double ss = 0.0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(ss / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int i = 0; i < n; ++i) out[i] = (x[i] * scale) * w[i];
}

void rope_build_cache(float* cos_out, float* sin_out, int n_pos, int n_rot, float freq_base,
                      const float* freq_factors) {
  const int half = n_rot / 2;
  for (int p = 0; p < n_pos; ++p) {
    for (int i = 0; i < half; ++i) {
      const double factor = freq_factors ? static_cast<double>(freq_factors[i]) : 1.0;
      const double theta = std::pow(static_cast<double>(freq_base), -2.0 * i / n_rot) / factor;
      const double angle = p * theta;
      cos_out[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(angle));
      sin_out[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(angle));
    }
  }
}

void rope_apply(float* x, int n_heads, int head_dim, int n_rot, const float* cos_row,
                const float* sin_row) {
  const int half = n_rot / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<size_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * cos_row[i] - b * sin_row[i];
      v[2 * i + 1] = a * sin_row[i] + b * cos_row[i];
    }
  }
}

// Past these arguments expf returns +inf (above 88.73) or +0 (below -103.98) through glibc's slow
// overflow/underflow path, which sets errno and costs as much as ten ordinary calls; random
// synthetic weights send many attention scores and gates there. Returning the same values
// directly keeps every result bit for bit.
constexpr float kExpOverflow = 89.0f;
constexpr float kExpUnderflow = -104.0f;

void swiglu(float* gate, const float* up, int n) {
  for (int i = 0; i < n; ++i) {
    const float g = gate[i];
    const float e = -g > kExpOverflow ? HUGE_VALF : std::exp(-g);
    gate[i] = g / (1.0f + e) * up[i];
  }
}

void softmax(float* x, int n) {
  if (n <= 0) return;
  float max_v = x[0];
  for (int i = 1; i < n; ++i) max_v = x[i] > max_v ? x[i] : max_v;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const float d = x[i] - max_v;
    x[i] = d < kExpUnderflow ? 0.0f : std::exp(d);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace loam
