// Sampler steps on fixed logit vectors with hand-computed results, the generator against the
// published splitmix64 sequence, determinism per seed, and draw frequencies against hand-computed
// probabilities.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "harness/test.h"
#include "loam/sampler.h"

using loam::Candidates;

namespace {

Candidates make(const std::vector<float>& logits) {
  Candidates c;
  c.assign(logits.data(), static_cast<int>(logits.size()));
  return c;
}

std::vector<int32_t> ids_of(const Candidates& c) {
  std::vector<int32_t> ids;
  for (const auto& cand : c.items) ids.push_back(cand.id);
  return ids;
}

// Logits whose softmax (temperature 1) is exactly `probs`.
std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

std::string join(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += std::to_string(x) + ",";
  return s;
}

}  // namespace

TEST_CASE("rng matches the published splitmix64 sequence for seed 0") {
  // Reference outputs of Vigna's splitmix64.c started from state 0.
  loam::Rng rng(0);
  CHECK_EQ(rng.next_u64(), 0xE220A8397B1DCDAFull);
  CHECK_EQ(rng.next_u64(), 0x6E789E6AA1B965F4ull);
  CHECK_EQ(rng.next_u64(), 0x06C45D188009454Full);
}

TEST_CASE("rng doubles are k / 2^53 from the top bits, in [0, 1)") {
  loam::Rng a(0);
  // 0xE220A8397B1DCDAF >> 11 = 0x1C4415072F63B9, / 2^53
  CHECK_EQ(a.next_double(), static_cast<double>(0xE220A8397B1DCDAFull >> 11) / 9007199254740992.0);
  loam::Rng b(12345);
  for (int i = 0; i < 10000; ++i) {
    const double u = b.next_double();
    REQUIRE(u >= 0.0 && u < 1.0);
  }
}

TEST_CASE("repetition penalty divides positive, multiplies negative, once per distinct id") {
  Candidates c = make({2.0f, -1.0f, 0.5f, 3.0f, 0.0f});
  const int32_t history[] = {0, 1, 0, 4, 0, 99};  // 99 is not a candidate: ignored
  loam::apply_repetition_penalty(c, history, 6, 2.0f);
  CHECK_EQ(c.items[0].logit, 1.0f);   // 2 / 2 (id 0 appears 3 times, penalized once)
  CHECK_EQ(c.items[1].logit, -2.0f);  // -1 * 2
  CHECK_EQ(c.items[2].logit, 0.5f);   // not in history
  CHECK_EQ(c.items[3].logit, 3.0f);   // not in history
  CHECK_EQ(c.items[4].logit, 0.0f);   // 0 * 2
}

TEST_CASE("repetition penalty of 1 changes nothing") {
  Candidates c = make({2.0f, -1.0f});
  const int32_t history[] = {0, 1};
  loam::apply_repetition_penalty(c, history, 2, 1.0f);
  CHECK_EQ(c.items[0].logit, 2.0f);
  CHECK_EQ(c.items[1].logit, -1.0f);
}

TEST_CASE("top-k keeps the k largest, ties to the lowest id") {
  Candidates c = make({1.0f, 3.0f, 2.0f, 3.0f, 0.0f});
  loam::apply_top_k(c, 3);
  CHECK_EQ(join(ids_of(c)), std::string("1,3,2,"));
  CHECK(c.sorted);

  Candidates tie = make({1.0f, 2.0f, 2.0f, 2.0f});
  loam::apply_top_k(tie, 2);
  CHECK_EQ(join(ids_of(tie)), std::string("1,2,"));

  Candidates off = make({1.0f, 3.0f, 2.0f});
  loam::apply_top_k(off, 0);  // off: everything kept, sorted
  CHECK_EQ(join(ids_of(off)), std::string("1,2,0,"));
}

TEST_CASE("top-p keeps the smallest prefix reaching p") {
  // probabilities 0.5 0.25 0.15 0.10 (ids in shuffled order to test the sort)
  const std::vector<float> l = logits_for({0.15, 0.5, 0.10, 0.25});
  Candidates a = make(l);
  loam::apply_top_p(a, 0.7f);  // 0.5, 0.75 >= 0.7
  CHECK_EQ(join(ids_of(a)), std::string("1,3,"));
  CHECK_NEAR(a.items[0].p, 0.5, 1e-6);
  CHECK_NEAR(a.items[1].p, 0.25, 1e-6);

  Candidates b = make(l);
  loam::apply_top_p(b, 0.8f);  // 0.5, 0.75, 0.90 >= 0.8
  CHECK_EQ(join(ids_of(b)), std::string("1,3,0,"));

  Candidates one = make(l);
  loam::apply_top_p(one, 0.0f);  // always at least one token
  CHECK_EQ(join(ids_of(one)), std::string("1,"));

  Candidates off = make(l);
  loam::apply_top_p(off, 1.0f);
  CHECK_EQ(off.size(), size_t(4));
}

TEST_CASE("min-p keeps tokens with p >= min_p * p_max") {
  const std::vector<float> l = logits_for({0.5, 0.25, 0.15, 0.10});
  Candidates a = make(l);
  loam::apply_min_p(a, 0.25f);  // threshold 0.125: drops 0.10
  CHECK_EQ(join(ids_of(a)), std::string("0,1,2,"));

  Candidates b = make(l);
  loam::apply_min_p(b, 0.4f);  // threshold 0.2: keeps 0.5, 0.25
  CHECK_EQ(join(ids_of(b)), std::string("0,1,"));

  Candidates c = make(l);
  loam::apply_min_p(c, 1.0f);  // only the maximum
  CHECK_EQ(join(ids_of(c)), std::string("0,"));

  Candidates off = make(l);
  loam::apply_min_p(off, 0.0f);
  CHECK_EQ(off.size(), size_t(4));
}

TEST_CASE("temperature divides the logits") {
  Candidates c = make({1.0f, 2.0f, 4.0f});
  loam::apply_temperature(c, 2.0f);
  CHECK_EQ(c.items[0].logit, 0.5f);
  CHECK_EQ(c.items[1].logit, 1.0f);
  CHECK_EQ(c.items[2].logit, 2.0f);
}

TEST_CASE("softmax of 1 2 3 by hand") {
  // e^0, e^-1, e^-2 = 1, 0.36787944, 0.13533528; sum 1.50321472
  Candidates c = make({1.0f, 2.0f, 3.0f});
  loam::apply_softmax(c);
  CHECK_EQ(join(ids_of(c)), std::string("2,1,0,"));
  CHECK_NEAR(c.items[0].p, 0.66524096, 1e-6);
  CHECK_NEAR(c.items[1].p, 0.24472847, 1e-6);
  CHECK_NEAR(c.items[2].p, 0.09003057, 1e-6);
}

TEST_CASE("softmax is safe with large and infinite logits") {
  const float inf = std::numeric_limits<float>::infinity();
  Candidates c = make({1000.0f, 999.0f, -inf});
  loam::apply_softmax(c);
  CHECK_NEAR(c.items[0].p, 0.73105858, 1e-6);  // 1 / (1 + e^-1)
  CHECK_NEAR(c.items[1].p, 0.26894142, 1e-6);
  CHECK_EQ(c.items[2].p, 0.0f);
}

TEST_CASE("draw walks the cumulative probabilities") {
  Candidates c = make(logits_for({0.2, 0.5, 0.3}));
  loam::apply_softmax(c);  // order: id 1 (0.5), id 2 (0.3), id 0 (0.2)
  CHECK_EQ(loam::draw_token(c, 0.0), 1);
  CHECK_EQ(loam::draw_token(c, 0.49), 1);
  CHECK_EQ(loam::draw_token(c, 0.51), 2);
  CHECK_EQ(loam::draw_token(c, 0.79), 2);
  CHECK_EQ(loam::draw_token(c, 0.81), 0);
  CHECK_EQ(loam::draw_token(c, 0.999999), 0);
}

TEST_CASE("argmax takes the lowest index on ties and skips NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float a[] = {1.0f, 3.0f, 3.0f, 2.0f};
  CHECK_EQ(loam::argmax(a, 4), 1);
  const float b[] = {nan, -1.0f, nan, -0.5f};
  CHECK_EQ(loam::argmax(b, 4), 3);
}

TEST_CASE("greedy sampler picks the argmax, lowest id on ties, whatever the seed") {
  loam::SamplerParams params;
  params.temp = 0.0f;
  const float logits[] = {0.1f, 5.0f, 5.0f, -2.0f};
  for (uint64_t seed : {0ull, 1ull, 999ull}) {
    params.seed = seed;
    loam::Sampler s(params);
    CHECK_EQ(s.sample(logits, 4), 1);
  }
}

TEST_CASE("sampler applies the penalty to the last N accepted tokens only") {
  loam::SamplerParams params;
  params.temp = 0.0f;
  params.repeat_penalty = 2.0f;
  params.repeat_last_n = 1;
  const float logits[] = {2.0f, 1.5f};

  loam::Sampler s(params);
  s.accept(0);                      // window {0}: 2/2 = 1 < 1.5
  CHECK_EQ(s.sample(logits, 2), 1);
  s.accept(1);                      // window {1}: 1.5/2 = 0.75 < 2
  CHECK_EQ(s.sample(logits, 2), 0);

  params.repeat_last_n = 2;         // window {0, 1}: 1 vs 0.75
  loam::Sampler t(params);
  t.accept(0);
  t.accept(1);
  CHECK_EQ(t.sample(logits, 2), 0);
  t.accept(1);                      // window {1, 1}: 2 vs 0.75
  CHECK_EQ(t.sample(logits, 2), 0);

  params.repeat_last_n = 0;         // off
  loam::Sampler u(params);
  u.accept(0);
  CHECK_EQ(u.sample(logits, 2), 0);
}

TEST_CASE("the same seed gives the same draws, another seed other draws") {
  std::vector<float> logits(64);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 37) % 11) * 0.3f;
  loam::SamplerParams params;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.temp = 1.0f;
  auto run = [&](uint64_t seed) {
    params.seed = seed;
    loam::Sampler s(params);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits.data(), 64));
    return out;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));

  params.seed = 7;
  loam::Sampler s(params);
  const int32_t first = s.sample(logits.data(), 64);
  s.sample(logits.data(), 64);
  s.reset();
  CHECK_EQ(s.sample(logits.data(), 64), first);
}

namespace {

std::vector<double> frequencies(loam::SamplerParams params, const std::vector<float>& logits,
                                int draws) {
  loam::Sampler s(params);
  std::vector<double> freq(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) {
    const int32_t id = s.sample(logits.data(), static_cast<int>(logits.size()));
    if (id >= 0 && static_cast<size_t>(id) < freq.size()) freq[static_cast<size_t>(id)] += 1.0;
  }
  for (double& f : freq) f /= draws;
  return freq;
}

}  // namespace

// With 100000 draws a frequency's standard deviation is at most 0.0016; 0.01 is six of them.
TEST_CASE("draw frequencies follow the probabilities at temperature 1") {
  loam::SamplerParams params;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.temp = 1.0f;
  params.seed = 1;
  const auto f = frequencies(params, logits_for({0.5, 0.3, 0.2}), 100000);
  CHECK_NEAR(f[0], 0.5, 0.01);
  CHECK_NEAR(f[1], 0.3, 0.01);
  CHECK_NEAR(f[2], 0.2, 0.01);
}

TEST_CASE("temperature 2 flattens to the square roots of the probabilities") {
  // p^(1/2): 0.70711 0.54772 0.44721, sum 1.70204 -> 0.41545 0.32180 0.26275
  loam::SamplerParams params;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.temp = 2.0f;
  params.seed = 2;
  const auto f = frequencies(params, logits_for({0.5, 0.3, 0.2}), 100000);
  CHECK_NEAR(f[0], 0.41545, 0.01);
  CHECK_NEAR(f[1], 0.32180, 0.01);
  CHECK_NEAR(f[2], 0.26275, 0.01);
}

TEST_CASE("the full chain truncates then renormalizes") {
  // p = 0.5 0.3 0.15 0.04 0.01. top_k 4 drops 0.01; top_p 0.9 keeps 0.5 0.3 0.15 (cum 0.95);
  // min_p 0.05 (threshold 0.025) keeps those; renormalized: 0.526316 0.315789 0.157895.
  loam::SamplerParams params;
  params.top_k = 4;
  params.top_p = 0.9f;
  params.min_p = 0.05f;
  params.temp = 1.0f;
  params.seed = 3;
  const auto f = frequencies(params, logits_for({0.5, 0.3, 0.15, 0.04, 0.01}), 100000);
  CHECK_NEAR(f[0], 0.526316, 0.01);
  CHECK_NEAR(f[1], 0.315789, 0.01);
  CHECK_NEAR(f[2], 0.157895, 0.01);
  CHECK_EQ(f[3], 0.0);
  CHECK_EQ(f[4], 0.0);
}

TEST_CASE("min-p alone cuts the tail") {
  // p = 0.6 0.3 0.1; min_p 0.2 -> threshold 0.12 drops 0.1; renormalized 2/3, 1/3.
  loam::SamplerParams params;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.2f;
  params.temp = 1.0f;
  params.seed = 4;
  const auto f = frequencies(params, logits_for({0.6, 0.3, 0.1}), 100000);
  CHECK_NEAR(f[0], 2.0 / 3.0, 0.01);
  CHECK_NEAR(f[1], 1.0 / 3.0, 0.01);
  CHECK_EQ(f[2], 0.0);
}

TEST_CASE("parameter validation names the field") {
  loam::SamplerParams p;
  CHECK(loam::validate_sampler_params(p).is_ok());
  p.top_p = 1.5f;
  auto st = loam::validate_sampler_params(p);
  CHECK(!st.is_ok());
  CHECK(st.message().find("top_p") != std::string::npos);
  p = loam::SamplerParams();
  p.repeat_penalty = 0.0f;
  CHECK(!loam::validate_sampler_params(p).is_ok());
  p = loam::SamplerParams();
  p.min_p = -0.1f;
  CHECK(!loam::validate_sampler_params(p).is_ok());
  p = loam::SamplerParams();
  p.temp = std::numeric_limits<float>::infinity();
  CHECK(!loam::validate_sampler_params(p).is_ok());
  p = loam::SamplerParams();
  p.repeat_last_n = -1;
  CHECK(!loam::validate_sampler_params(p).is_ok());
}
