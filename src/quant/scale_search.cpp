#include "quant/scale_search.h"

#include <algorithm>
#include <cmath>

#include "quant/quantize.h"

namespace loam {

namespace {

// Below this every value rounds to code 0 at any usable scale (and 1/max would overflow).
constexpr float kNegligible = 1e-15f;

inline int clamp_code(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

}  // namespace

float fit_scale_offset(const float* x, const float* w, int n, int nmax, const ScaleGrid& grid,
                       uint8_t* q, float* offset) {
  float lo = x[0], hi = x[0];
  float sum_w = 0.0f, sum_wx = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_wx += w[i] * x[i];
  }
  // The offset cannot be positive, so the range always reaches down to 0 at least.
  lo = std::min(lo, 0.0f);
  if (hi == lo) {
    std::fill(q, q + n, uint8_t{0});
    *offset = -lo;
    return 0.0f;
  }

  // Starting point: the range [lo, hi] spread evenly over codes 0..nmax.
  float best_scale = (hi - lo) / nmax;
  float best_base = lo;  // reconstruction: best_scale * q + best_base
  float best_err = 0.0f;
  {
    const float inv = nmax / (hi - lo);
    for (int i = 0; i < n; ++i) {
      q[i] = static_cast<uint8_t>(clamp_code(round_nearest(inv * (x[i] - lo)), 0, nmax));
      const float e = best_scale * q[i] + best_base - x[i];
      best_err += w[i] * e * e;
    }
  }

  // Each candidate rounds relative to the best base found so far, so an improved offset also
  // re-centres the codes of the candidates after it.
  uint8_t trial[256];  // codes of the candidate being scored; n <= 256
  for (int k = 0; k < grid.count; ++k) {
    const float inv = (grid.first + grid.step * k + nmax) / (hi - best_base);
    float s_wq = 0.0f, s_wqq = 0.0f, s_wqx = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int c = clamp_code(round_nearest(inv * (x[i] - best_base)), 0, nmax);
      trial[i] = static_cast<uint8_t>(c);
      s_wq += w[i] * c;
      s_wqq += w[i] * c * c;
      s_wqx += w[i] * c * x[i];
    }
    // Weighted least squares for (scale, base) given the codes: the 2x2 normal equations.
    const float det = sum_w * s_wqq - s_wq * s_wq;
    if (!(det > 0.0f)) continue;
    float scale = (sum_w * s_wqx - sum_wx * s_wq) / det;
    float base = (s_wqq * sum_wx - s_wq * s_wqx) / det;
    if (base > 0.0f) {
      // The best base would be positive, which the format cannot store: refit the scale alone.
      base = 0.0f;
      scale = s_wqx / s_wqq;
    }
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float e = scale * trial[i] + base - x[i];
      err += w[i] * e * e;
    }
    if (err < best_err) {
      best_err = err;
      best_scale = scale;
      best_base = base;
      std::copy(trial, trial + n, q);
    }
  }
  *offset = -best_base;
  return best_scale;
}

float fit_scale_symmetric(const float* x, const float* w, int n, int nmax, const ScaleGrid& grid,
                          int8_t* q) {
  float amax = 0.0f, extreme = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      extreme = x[i];
    }
  }
  if (amax < kNegligible) {
    std::fill(q, q + n, int8_t{0});
    return 0.0f;
  }

  // For codes q the best scale is s = sum(w x q) / sum(w q^2), and the weighted error left is
  // sum(w x^2) - sum(w x q)^2 / sum(w q^2): the best candidate maximizes sum(w x q)^2 / sum(w q^2).
  float best_num = 0.0f, best_den = 0.0f;
  int8_t trial[256];  // n <= 256
  for (int k = -1; k < grid.count; ++k) {
    const float stretch = k < 0 ? 0.0f : grid.first + grid.step * k;  // k = -1: the plain scale
    const float inv = -(nmax + stretch) / extreme;
    float s_wxq = 0.0f, s_wqq = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int c = clamp_code(round_nearest(inv * x[i]), -nmax, nmax - 1);
      trial[i] = static_cast<int8_t>(c);
      s_wxq += w[i] * x[i] * c;
      s_wqq += w[i] * c * c;
    }
    if (!(s_wqq > 0.0f)) continue;
    // Compare s_wxq^2 / s_wqq without dividing (both denominators are positive), in double:
    // with w = x^2 the products reach x^8 and would overflow float for large weights.
    if (best_den == 0.0f || static_cast<double>(s_wxq) * s_wxq * best_den >
                                static_cast<double>(best_num) * best_num * s_wqq) {
      best_num = s_wxq;
      best_den = s_wqq;
      std::copy(trial, trial + n, q);
    }
  }
  return best_den > 0.0f ? best_num / best_den : 0.0f;
}

}  // namespace loam
