// The SIMD scale search of the Q4_K / Q5_K quantizers against the scalar one, bit for bit. The
// scalar search is the specification: test_quantize_model checks that it writes llama-quantize's
// bytes, so any difference here would be a file that differs from llama-quantize's.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "harness/test.h"
#include "kernel_checks.h"
#include "kernels/kernels.h"
#include "quant/quant_k_llamacpp.h"

using namespace loam;

namespace {

constexpr int kSuperBlock = 256;
constexpr int kSub = 32;

// Super-blocks whose sub-blocks (32 values each; Q6_K's groups are their halves) cover what the search branches on: mixed signs,
// all positive (the offset clamps to 0), all negative, constants (zero, negative, positive: the
// early return), one spike, values on rounding boundaries (multiples of 1/2 and 1/8, where many
// codes tie), tiny and subnormal magnitudes, and wide ranges of scale.
std::vector<float> test_super_blocks(std::mt19937& rng) {
  std::vector<float> x;
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  const int kinds = 17;
  for (int b = 0; b < 400; ++b) {
    for (int j = 0; j < kSuperBlock / kSub; ++j) {
      const int kind = (b * 8 + j * 5) % kinds;
      const float magnitude = std::pow(10.f, -3.f + 5.f * uniform(rng));
      for (int i = 0; i < kSub; ++i) {
        float v = 0;
        switch (kind) {
          case 0: case 1: case 2: v = magnitude * normal(rng); break;
          case 3: v = magnitude * (0.1f + uniform(rng)); break;          // all positive
          case 4: v = -magnitude * (0.1f + uniform(rng)); break;         // all negative
          case 5: v = 0.f; break;                                         // constant zero
          case 6: v = -magnitude; break;                                  // negative constant
          case 7: v = magnitude; break;                                   // positive constant
          case 8: v = i == 7 ? 50.f * magnitude : 0.01f * magnitude * normal(rng); break;
          case 9: v = 0.5f * static_cast<float>(static_cast<int>(rng() % 31) - 15); break;
          case 10: v = 0.125f * static_cast<float>(static_cast<int>(rng() % 33) - 8); break;
          case 11: v = 1e-39f * static_cast<float>(static_cast<int>(rng() % 64) - 32); break;
          case 12: v = i < 16 ? 1e-16f * normal(rng) : magnitude * normal(rng); break;  // Q6_K: all-zero half
          // Signed zeros among positive values and alone (a vector min may order -0 below +0,
          // where the scalar comparison keeps whichever came first).
          case 13: v = rng() % 3 == 0 ? -0.0f : (rng() % 2 ? 0.0f : magnitude * uniform(rng)); break;
          case 14: v = rng() % 2 ? -0.0f : 0.0f; break;
          // Magnitudes whose squares and sums overflow to infinity (and then NaN).
          case 15: v = std::pow(10.f, 18.f + 20.f * uniform(rng)) * normal(rng); break;
          // Q6_K's all-zero threshold exactly: a group whose largest magnitude is 1e-15f is not
          // all zero (the comparison is strict).
          case 16: v = i % 16 == 3 ? -1e-15f : 1e-17f * normal(rng); break;
        }
        x.push_back(v);
      }
    }
  }
  return x;
}

struct SearchResult {
  float scales[8], neg_mins[8];
  uint8_t codes[kSuperBlock];
};

SearchResult run(FitKSubBlocksFn search, const float* x, int nmax, float rmin, int nstep) {
  SearchResult r;
  std::memset(&r, 0xAB, sizeof r);
  search(x, nmax, rmin, 0.1f, nstep, r.scales, r.neg_mins, r.codes);
  return r;
}

}  // namespace

TEST_CASE("SIMD K-quant scale search equals the scalar search bit for bit (Q4_K and Q5_K)") {
  const auto isas = kernel_checks::simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(2026);
  const std::vector<float> x = test_super_blocks(rng);
  struct Params { const char* type; int nmax; float rmin; int nstep; };
  const Params params[] = {{"Q4_K", 15, -1.0f, 20}, {"Q5_K", 31, -0.5f, 15}};
  int checked = 0;
  for (Isa isa : isas) {
    const FitKSubBlocksFn simd = kernel_table_for(isa)->fit_k_sub_blocks;
    // Every SIMD set has one (the AVX-512 table inherits AVX2's): a dropped registration would
    // otherwise pass this test by checking nothing.
    REQUIRE(simd != nullptr);
    for (const Params& p : params) {
      for (size_t b = 0; b < x.size() / kSuperBlock; ++b) {
        const float* xb = x.data() + b * kSuperBlock;
        const SearchResult want = run(fit_k_sub_blocks_scalar, xb, p.nmax, p.rmin, p.nstep);
        const SearchResult got = run(simd, xb, p.nmax, p.rmin, p.nstep);
        const bool same = std::memcmp(&want, &got, sizeof want) == 0;
        if (!same) {
          for (int j = 0; j < 8; ++j)
            std::fprintf(stderr, "%s %s block %zu sub-block %d: scale %a / %a, -min %a / %a\n",
                         isa_name(isa), p.type, b, j, want.scales[j], got.scales[j],
                         want.neg_mins[j], got.neg_mins[j]);
        }
        REQUIRE(same);
        ++checked;
      }
    }
  }
  CHECK(checked > 0);
}

TEST_CASE("SIMD Q6_K scale search equals the scalar search bit for bit") {
  const auto isas = kernel_checks::simd_isas();
  if (isas.empty()) SKIP("this CPU runs no SIMD kernel set of this build");
  std::mt19937 rng(2027);
  const std::vector<float> x = test_super_blocks(rng);
  int checked = 0;
  for (Isa isa : isas) {
    const FitQ6KGroupsFn simd = kernel_table_for(isa)->fit_q6_k_groups;
    REQUIRE(simd != nullptr);
    for (size_t b = 0; b < x.size() / kSuperBlock; ++b) {
      const float* xb = x.data() + b * kSuperBlock;
      float want_scales[16], got_scales[16];
      int8_t want_codes[kSuperBlock], got_codes[kSuperBlock];
      std::memset(want_codes, 0x55, sizeof want_codes);
      std::memset(got_codes, 0x2A, sizeof got_codes);
      fit_q6_k_groups_scalar(xb, 32, want_scales, want_codes);
      simd(xb, 32, got_scales, got_codes);
      const bool same = std::memcmp(want_scales, got_scales, sizeof want_scales) == 0 &&
                        std::memcmp(want_codes, got_codes, sizeof want_codes) == 0;
      if (!same)
        for (int g = 0; g < 16; ++g)
          std::fprintf(stderr, "%s block %zu group %d: scale %a / %a\n", isa_name(isa), b, g,
                       want_scales[g], got_scales[g]);
      REQUIRE(same);
      ++checked;
    }
  }
  CHECK(checked > 0);
}
