// Small helpers shared by the tests of src/quant and the quantized dot kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "loam/dtype.h"

namespace quant_test {

// The block types the quant module implements, weights first, then the activation-only Q8_K.
inline const loam::DType kWeightTypes[] = {loam::DType::Q8_0, loam::DType::Q4_0, loam::DType::Q4_1,
                                           loam::DType::Q5_0, loam::DType::Q5_1, loam::DType::Q4_K,
                                           loam::DType::Q5_K, loam::DType::Q6_K};

enum class Dist { Normal, Uniform, HeavyTail };

inline std::vector<float> random_values(int64_t n, Dist dist, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::student_t_distribution<float> heavy(3.0f);  // outliers, like real weight matrices
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist == Dist::Normal ? normal(rng) : dist == Dist::Uniform ? uniform(rng) : heavy(rng);
  return x;
}

inline double rms(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return n > 0 ? std::sqrt(s / n) : 0.0;
}

inline double rms_diff(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return n > 0 ? std::sqrt(s / n) : 0.0;
}

inline void put_u16(uint16_t v, uint8_t* at) { std::memcpy(at, &v, 2); }

}  // namespace quant_test
