// Hand-computed checks of the forward pass's numeric building blocks (src/model/ops.h).
// Every expected number below is worked out in the comment next to it from the definition, not
// recorded from the code under test.
#include <cmath>
#include <vector>

#include "harness/test.h"
#include "model/ops.h"

namespace {

// float results of a few float operations: a few ulps of slack around the exact value.
constexpr double kTol = 2e-6;

}  // namespace

TEST_CASE("rmsnorm_hand_computed") {
  // x = [1,2,3,4], w = [1,1,2,0.5], eps = 0
  // mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5, rms = sqrt(7.5), 1/rms = sqrt(2/15) = 0.36514837167011
  // out = x * w / rms = [1*1, 2*1, 3*2, 4*0.5] * 0.36514837167011
  //     = [0.36514837167011, 0.73029674334022, 2.19089023002066, 0.73029674334022]
  const float x[4] = {1, 2, 3, 4};
  const float w[4] = {1, 1, 2, 0.5f};
  float out[4];
  loam::rmsnorm(out, x, w, 4, 0.0f);
  CHECK_NEAR(out[0], 0.36514837167011, kTol);
  CHECK_NEAR(out[1], 0.73029674334022, kTol);
  CHECK_NEAR(out[2], 2.19089023002066, kTol);
  CHECK_NEAR(out[3], 0.73029674334022, kTol);
}

TEST_CASE("rmsnorm_eps_is_added_inside_the_root") {
  // x = [2,2], w = [1,3], eps = 12: mean(x^2) = 4, 4 + 12 = 16, 1/sqrt(16) = 0.25
  // out = [2*0.25*1, 2*0.25*3] = [0.5, 1.5]   (eps added outside the root would give 2/(2+12))
  const float x[2] = {2, 2};
  const float w[2] = {1, 3};
  float out[2];
  loam::rmsnorm(out, x, w, 2, 12.0f);
  CHECK_NEAR(out[0], 0.5, kTol);
  CHECK_NEAR(out[1], 1.5, kTol);
}

TEST_CASE("rmsnorm_in_place") {
  // The forward pass may normalize a buffer into itself: x = [3,4], w = [1,1], eps = 0.
  // mean(x^2) = 25/2 = 12.5, 1/sqrt(12.5) = 0.28284271247462; out = [0.84852813742386, 1.13137084989848]
  float x[2] = {3, 4};
  const float w[2] = {1, 1};
  loam::rmsnorm(x, x, w, 2, 0.0f);
  CHECK_NEAR(x[0], 0.84852813742386, kTol);
  CHECK_NEAR(x[1], 1.13137084989848, kTol);
}

TEST_CASE("rope_cache_frequencies_by_hand") {
  // n_rot = 4, base 10000: theta_i = base^(-2i/n_rot)
  //   theta_0 = 10000^0 = 1, theta_1 = 10000^(-2/4) = 10000^-0.5 = 0.01
  // pos 0: all angles 0 -> cos 1, sin 0.
  // pos 1: pair 0 angle 1 rad   -> cos 0.54030230586814, sin 0.84147098480790
  //        pair 1 angle 0.01 rad -> cos = 1 - 0.01^2/2 + 0.01^4/24 = 0.99995000041667
  //                                 sin = 0.01 - 0.01^3/6 + 0.01^5/120 = 0.00999983333417
  // pos 3: pair 0 angle 3 rad   -> cos -0.98999249660045, sin 0.14112000805987
  //        pair 1 angle 0.03 rad -> cos = 1 - 0.00045 + 0.03^4/24 = 0.99955003374899
  //                                 sin = 0.03 - 0.03^3/6 + 0.03^5/120 = 0.02999550020250
  const int n_pos = 4, half = 2;
  std::vector<float> cos_t(n_pos * half), sin_t(n_pos * half);  // [n_pos][n_rot/2]
  loam::rope_build_cache(cos_t.data(), sin_t.data(), n_pos, 4, 10000.0f);
  CHECK_NEAR(cos_t[0], 1.0, kTol);
  CHECK_NEAR(sin_t[0], 0.0, kTol);
  CHECK_NEAR(cos_t[1], 1.0, kTol);
  CHECK_NEAR(sin_t[1], 0.0, kTol);
  CHECK_NEAR(cos_t[1 * half + 0], 0.54030230586814, kTol);
  CHECK_NEAR(sin_t[1 * half + 0], 0.84147098480790, kTol);
  CHECK_NEAR(cos_t[1 * half + 1], 0.99995000041667, kTol);
  CHECK_NEAR(sin_t[1 * half + 1], 0.00999983333417, 1e-8);
  CHECK_NEAR(cos_t[3 * half + 0], -0.98999249660045, kTol);
  CHECK_NEAR(sin_t[3 * half + 0], 0.14112000805987, kTol);
  CHECK_NEAR(cos_t[3 * half + 1], 0.99955003374899, kTol);
  CHECK_NEAR(sin_t[3 * half + 1], 0.02999550020250, 1e-8);
}

TEST_CASE("rope_cache_other_base") {
  // n_rot = 2 has only pair 0 (theta 1, whatever the base); n_rot = 4 with base 100:
  // theta_1 = 100^(-2/4) = 0.1, so at pos 2 the angle is 0.2 rad:
  //   cos 0.2 = 1 - 0.02 + 0.0016/24 - 0.000064/720 = 0.98006657784124
  //   sin 0.2 = 0.2 - 0.008/6 + 0.00032/120 - 0.0000128/5040 = 0.19866933079506
  std::vector<float> cos_t(3 * 2), sin_t(3 * 2);  // [3][2]
  loam::rope_build_cache(cos_t.data(), sin_t.data(), 3, 4, 100.0f);
  CHECK_NEAR(cos_t[2 * 2 + 1], 0.98006657784124, kTol);
  CHECK_NEAR(sin_t[2 * 2 + 1], 0.19866933079506, kTol);
  // pair 0 at pos 2: angle 2 rad, cos -0.41614683654714, sin 0.90929742682568
  CHECK_NEAR(cos_t[2 * 2 + 0], -0.41614683654714, kTol);
  CHECK_NEAR(sin_t[2 * 2 + 0], 0.90929742682568, kTol);
}

TEST_CASE("rope_apply_one_rotation_by_hand") {
  // Two heads of head_dim 6, n_rot 4: pairs (0,1) and (2,3) rotate, dims 4 and 5 stay.
  // Rotation of (a, b) by angle t: (a cos t - b sin t, a sin t + b cos t).
  // Position 1 with base 10000 (angles 1 and 0.01, see rope_cache_frequencies_by_hand):
  // head 0 = [1, 0, 2, 3, 5, 7]
  //   pair 0: (1, 0) by 1 rad -> (cos 1, sin 1) = (0.54030230586814, 0.84147098480790)
  //   pair 1: (2, 3) by 0.01  -> (2*0.99995000041667 - 3*0.00999983333417,
  //                               2*0.00999983333417 + 3*0.99995000041667)
  //                            = (1.99990000083333 - 0.02999950000250, 0.01999966666833 + 2.99985000125000)
  //                            = (1.96990050083083, 3.01984966791833)
  //   dims 4, 5 untouched: 5, 7
  // head 1 = [0, -2, 0, 0, -1, 8]
  //   pair 0: (0, -2) by 1 rad -> (2 sin 1, -2 cos 1) = (1.68294196961579, -1.08060461173628)
  //   pair 1: (0, 0) stays (0, 0); dims 4, 5 untouched: -1, 8
  std::vector<float> cos_t(2 * 2), sin_t(2 * 2);  // [2 positions][n_rot/2]
  loam::rope_build_cache(cos_t.data(), sin_t.data(), 2, 4, 10000.0f);
  float x[12] = {1, 0, 2, 3, 5, 7, 0, -2, 0, 0, -1, 8};
  loam::rope_apply(x, 2, 6, 4, &cos_t[2], &sin_t[2]);
  CHECK_NEAR(x[0], 0.54030230586814, kTol);
  CHECK_NEAR(x[1], 0.84147098480790, kTol);
  CHECK_NEAR(x[2], 1.96990050083083, 4e-6);
  CHECK_NEAR(x[3], 3.01984966791833, 4e-6);
  CHECK_EQ(x[4], 5.0f);
  CHECK_EQ(x[5], 7.0f);
  CHECK_NEAR(x[6], 1.68294196961579, 4e-6);
  CHECK_NEAR(x[7], -1.08060461173628, 4e-6);
  CHECK_EQ(x[8], 0.0f);
  CHECK_EQ(x[9], 0.0f);
  CHECK_EQ(x[10], -1.0f);
  CHECK_EQ(x[11], 8.0f);
}

TEST_CASE("rope_apply_position_zero_is_identity") {
  std::vector<float> cos_t(1 * 3), sin_t(1 * 3);  // [1][3]
  loam::rope_build_cache(cos_t.data(), sin_t.data(), 1, 6, 10000.0f);
  float x[6] = {0.5f, -1.5f, 2.25f, 3.0f, -4.0f, 1e-3f};
  const float before[6] = {0.5f, -1.5f, 2.25f, 3.0f, -4.0f, 1e-3f};
  loam::rope_apply(x, 1, 6, 6, cos_t.data(), sin_t.data());
  for (int i = 0; i < 6; ++i) CHECK_EQ(x[i], before[i]);
}

TEST_CASE("rope_apply_quarter_turn_with_given_rows") {
  // With cos = 0, sin = 1 every pair (a, b) becomes (-b, a); with cos = -1, sin = 0, (-a, -b).
  const float cos_row[2] = {0.0f, -1.0f};
  const float sin_row[2] = {1.0f, 0.0f};
  float x[4] = {3, 4, 5, 6};
  loam::rope_apply(x, 1, 4, 4, cos_row, sin_row);
  CHECK_EQ(x[0], -4.0f);
  CHECK_EQ(x[1], 3.0f);
  CHECK_EQ(x[2], -5.0f);
  CHECK_EQ(x[3], -6.0f);
}

TEST_CASE("swiglu_hand_computed") {
  // silu(g) = g / (1 + e^-g); out = silu(gate) * up
  //   g = 0:  0 / 2 = 0                                    -> 0 * 5 = 0
  //   g = 1:  1 / (1 + 0.36787944117144) = 0.73105857863001 -> * 2 = 1.46211715726001
  //   g = -1: -1 / (1 + 2.71828182845905) = -0.26894142136999 -> * 3 = -0.80682426410998
  //   g = 2:  2 / (1 + 0.13533528323661) = 1.76159415595576 -> * 0.5 = 0.88079707797788
  float gate[4] = {0, 1, -1, 2};
  const float up[4] = {5, 2, 3, 0.5f};
  loam::swiglu(gate, up, 4);
  CHECK_NEAR(gate[0], 0.0, kTol);
  CHECK_NEAR(gate[1], 1.46211715726001, kTol);
  CHECK_NEAR(gate[2], -0.80682426410998, kTol);
  CHECK_NEAR(gate[3], 0.88079707797788, kTol);
}

TEST_CASE("swiglu_large_inputs_stay_finite") {
  // silu(100) = 100 / (1 + e^-100) = 100 (to float precision); silu(-100) = -100 e^-100 ~ -3.7e-42,
  // i.e. 0 at float precision. e^100 overflows float: the result must still be a number, not NaN.
  float gate[2] = {100.0f, -100.0f};
  const float up[2] = {0.5f, 7.0f};
  loam::swiglu(gate, up, 2);
  CHECK_NEAR(gate[0], 50.0, 1e-4);
  CHECK(std::isfinite(gate[1]));
  CHECK_NEAR(gate[1], 0.0, 1e-30);
}

TEST_CASE("softmax_hand_computed") {
  // [1, 2, 3]: e^1 = 2.71828182845905, e^2 = 7.38905609893065, e^3 = 20.08553692318767,
  // sum = 30.19287485057737 -> [0.09003057317038, 0.24472847105480, 0.66524095577482]
  float x[3] = {1, 2, 3};
  loam::softmax(x, 3);
  CHECK_NEAR(x[0], 0.09003057317038, kTol);
  CHECK_NEAR(x[1], 0.24472847105480, kTol);
  CHECK_NEAR(x[2], 0.66524095577482, kTol);
  // [0, ln 3]: e^0 = 1, e^ln3 = 3 -> [1/4, 3/4]
  float y[2] = {0.0f, static_cast<float>(std::log(3.0))};
  loam::softmax(y, 2);
  CHECK_NEAR(y[0], 0.25, kTol);
  CHECK_NEAR(y[1], 0.75, kTol);
}

TEST_CASE("softmax_large_inputs_do_not_overflow") {
  // e^1000 overflows float and double; after subtracting the max, [1000, 1001] -> [e^-1, 1] / (1 + e^-1)
  //   = [1 / (1 + e), e / (1 + e)] = [0.26894142136999, 0.73105857863001]
  float x[2] = {1000.0f, 1001.0f};
  loam::softmax(x, 2);
  CHECK_NEAR(x[0], 0.26894142136999, kTol);
  CHECK_NEAR(x[1], 0.73105857863001, kTol);
  // Very negative equal values: each e^-1000 underflows to 0 without the shift -> 0/0.
  float y[3] = {-1000.0f, -1000.0f, -1000.0f};
  loam::softmax(y, 3);
  for (float v : y) CHECK_NEAR(v, 1.0 / 3.0, kTol);
  // One entry: always 1.
  float z[1] = {12345.0f};
  loam::softmax(z, 1);
  CHECK_NEAR(z[0], 1.0, kTol);
}

TEST_CASE("softmax_masked_entries_get_zero") {
  // -inf (a masked score) contributes e^-inf = 0: [0, -inf, 0] -> [0.5, 0, 0.5]
  float x[3] = {0.0f, -INFINITY, 0.0f};
  loam::softmax(x, 3);
  CHECK_NEAR(x[0], 0.5, kTol);
  CHECK_EQ(x[1], 0.0f);
  CHECK_NEAR(x[2], 0.5, kTol);
}
