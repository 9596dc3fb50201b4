// The exponentials of the forward pass, softmax and SwiGLU, of every kernel set this machine runs
// (the scalar one is glibc's expf; AVX2 and AVX-512 run a vector exponential of their own),
// against the exact functions computed in double here. The tolerance is stated in units of a
// float's rounding, 2^-24 relative.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "harness/test.h"
#include "kernel_checks.h"
#include "kernels/kernels.h"

using namespace loam;

namespace {

constexpr double kUnit = 1.0 / (1 << 24);  // a float's relative rounding step, half an ulp at 1

std::vector<const KernelTable*> tables_here() {
  std::vector<const KernelTable*> out = {kernel_table_for(Isa::Scalar)};
  for (Isa isa : kernel_checks::simd_isas()) out.push_back(kernel_table_for(isa));
  return out;
}

// Relative error of `got` against `want`, in units of kUnit.
double units(float got, double want) { return std::fabs(static_cast<double>(got) - want) / (std::fabs(want) * kUnit); }

}  // namespace

TEST_CASE("softmax's exponential is within 2 units of e^d over the whole range it keeps") {
  // softmax([0, d]) with d <= -17.5: the second output is e^d / (1 + e^d), and 1 + e^d (summed in
  // double) rounds to a reciprocal of exactly 1.0f, so the output is the kernel's e^d itself. d is
  // a float and the max is 0, so d - max is exact. Below -86 a vector set may return 0 (its stated
  // flush: e^-86 < 4.5e-38), so the sweep stops there.
  for (const KernelTable* t : tables_here()) {
    double worst = 0.0;
    float worst_at = 0.0f;
    for (int k = 0; k <= 200000; ++k) {
      const float d = -17.5f - static_cast<float>(k) * (86.0f - 17.5f) / 200000.0f;
      if (d < -86.0f) continue;
      float x[2] = {0.0f, d};
      t->softmax(x, 2, 1.0f);
      const double u = units(x[1], std::exp(static_cast<double>(d)));
      if (u > worst) worst = u, worst_at = d;
    }
    std::fprintf(stderr, "  %s: worst e^d %.2f units (at d = %.6g)\n", t->isa, worst, worst_at);
    CHECK(worst <= 2.0);
  }
}

TEST_CASE("softmax of every kernel set equals the exact one within its roundings, rows of 1-40 and 4097") {
  std::mt19937 rng(21);
  std::normal_distribution<float> dist(0.0f, 6.0f);
  for (const KernelTable* t : tables_here()) {
    double worst = 0.0;
    for (int n : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 40, 4097}) {
      for (int rep = 0; rep < 4; ++rep) {
        std::vector<float> x(n);
        for (float& v : x) v = dist(rng);
        const float scale = 0.125f;  // a power of two: the scaled inputs are exact
        std::vector<float> y = x;
        t->softmax(y.data(), n, scale);
        double max_v = -INFINITY, sum = 0.0;
        for (float v : x) max_v = std::max(max_v, static_cast<double>(v) * scale);
        for (float v : x) sum += std::exp(static_cast<double>(v) * scale - max_v);
        for (int i = 0; i < n; ++i) {
          const double d = static_cast<double>(x[i]) * scale - max_v;
          const double want = std::exp(d) / sum;
          // e^d's own error (2 units), d - max rounded to float (|d| units: e^d's relative error is
          // the absolute error of d), the reciprocal and the product (2 more).
          const double allowed = 4.0 + std::fabs(d);
          const double u = units(y[i], want) / allowed;
          worst = std::max(worst, u);
          if (u > 1.0) {
            std::fprintf(stderr, "  %s n=%d i=%d: %.9g, exact %.9g (%.2f of the allowed)\n", t->isa, n, i, y[i], want, u);
            CHECK(u <= 1.0);
            break;
          }
        }
      }
    }
    std::fprintf(stderr, "  %s: worst softmax output %.2f of its allowed error\n", t->isa, worst);
  }
}

TEST_CASE("softmax of every kernel set: large, equal and masked inputs") {
  for (const KernelTable* t : tables_here()) {
    // [1000, 1001] -> [1 / (1 + e), e / (1 + e)] = [0.26894142136999, 0.73105857863001]
    float a[2] = {1000.0f, 1001.0f};
    t->softmax(a, 2, 1.0f);
    CHECK_NEAR(a[0], 0.26894142136999, 1e-6);
    CHECK_NEAR(a[1], 0.73105857863001, 1e-6);
    // 11 equal very negative values -> 1/11 each; one value -> 1.
    std::vector<float> b(11, -1000.0f);
    t->softmax(b.data(), 11, 1.0f);
    for (float v : b) CHECK_NEAR(v, 1.0 / 11.0, 1e-7);
    float c[1] = {12345.0f};
    t->softmax(c, 1, 0.5f);
    CHECK_EQ(c[0], 1.0f);
    // -inf (a masked score) -> exactly 0; the rest share the mass: [0, -inf, ln 3, -inf] * 1
    const float inf = std::numeric_limits<float>::infinity();
    float m[4] = {0.0f, -inf, static_cast<float>(std::log(3.0)), -inf};
    t->softmax(m, 4, 1.0f);
    CHECK_EQ(m[1], 0.0f);
    CHECK_EQ(m[3], 0.0f);
    CHECK_NEAR(m[0], 0.25, 1e-7);
    CHECK_NEAR(m[2], 0.75, 1e-7);
  }
}

TEST_CASE("swiglu of every kernel set equals g / (1 + e^-g) * up within 4 units, g in [-88, 30]") {
  // For g below about -17 the result is g e^g * up: e^-g's error shows in full, so this sweeps the
  // exponential over positive arguments up to 88 as well.
  for (const KernelTable* t : tables_here()) {
    const int n = 100003;  // not a multiple of 8 or 16: the tail is in it
    std::vector<float> gate(n), up(n), g(n);
    for (int i = 0; i < n; ++i) {
      g[i] = -88.0f + 118.0f * static_cast<float>(i) / static_cast<float>(n - 1);
      up[i] = 0.5f + static_cast<float>(i % 7) * 0.25f;
    }
    gate = g;
    t->swiglu(gate.data(), up.data(), n);
    double worst = 0.0;
    for (int i = 0; i < n; ++i) {
      const double gd = g[i];
      const double want = gd / (1.0 + std::exp(-gd)) * up[i];
      if (want == 0.0) continue;
      worst = std::max(worst, units(gate[i], want));
    }
    std::fprintf(stderr, "  %s: worst swiglu %.2f units\n", t->isa, worst);
    CHECK(worst <= 4.0);
    // Far past the overflow of e^-g: silu(-100) is -100 e^-100 ~ -3.7e-42 (0 or a tiny subnormal
    // in float), silu(100) is 100; never NaN.
    float big[2] = {-100.0f, 100.0f};
    const float ones[2] = {1.0f, 1.0f};
    t->swiglu(big, ones, 2);
    CHECK(std::isfinite(big[0]));
    CHECK_NEAR(big[0], 0.0, 1e-30);
    CHECK_EQ(big[1], 100.0f);
  }
}

TEST_CASE("swiglu gives each element the same bits however the row is split (threads split it)") {
  std::mt19937 rng(22);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (const KernelTable* t : tables_here()) {
    const int n = 53;
    std::vector<float> g(n), up(n);
    for (int i = 0; i < n; ++i) g[i] = dist(rng), up[i] = dist(rng);
    std::vector<float> whole = g;
    t->swiglu(whole.data(), up.data(), n);
    std::vector<float> split = g;
    for (const auto& [from, to] : std::vector<std::pair<int, int>>{{0, 5}, {5, 13}, {13, 14}, {14, 53}})
      t->swiglu(split.data() + from, up.data() + from, to - from);
    CHECK(std::memcmp(whole.data(), split.data(), n * sizeof(float)) == 0);
  }
}
