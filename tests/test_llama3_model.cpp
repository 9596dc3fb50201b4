// Llama 3 model features (issue 10, item 2): Llama 3.1 rope scaling (rope_freqs.weight) checked
// against the published formula and hand-computed values, the cos/sin cache built with those
// factors, tied embeddings, GQA, llama.vocab_size, and the refusals of malformed Llama 3 files.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "format_fixtures.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "model/ops.h"
#include "reference/run_engine.h"

using loam_test::TinyLlamaSpec;
using loam_test::load;
using loam_test::write_tiny;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Llama 3.1's rope scaling as Meta publishes it (`apply_scaling` in the llama-models repository;
// Hugging Face's rope_type "llama3"): for the unscaled frequency f_i = base^(-2i/dim) and its
// wavelength w = 2 pi / f_i,
//   w < original_max / high_freq_factor  -> f_i unchanged;
//   w > original_max / low_freq_factor   -> f_i / factor;
//   otherwise, with smooth = (original_max / w - low_freq_factor) / (high - low):
//                                        -> (1 - smooth) * f_i / factor + smooth * f_i.
// GGUF stores the ratio f_i / scaled f_i as rope_freqs.weight, which divides the angle.
double llama3_freq_factor(double base, int dim, int i, double factor, double low_freq_factor,
                          double high_freq_factor, double original_max) {
  const double freq = std::pow(base, -2.0 * i / dim);
  const double wavelen = 2.0 * kPi / freq;
  const double low_freq_wavelen = original_max / low_freq_factor;
  const double high_freq_wavelen = original_max / high_freq_factor;
  double scaled = freq;
  if (wavelen > low_freq_wavelen) {
    scaled = freq / factor;
  } else if (wavelen >= high_freq_wavelen) {
    const double smooth = (original_max / wavelen - low_freq_factor) /
                          (high_freq_factor - low_freq_factor);
    scaled = (1.0 - smooth) * freq / factor + smooth * freq;
  }
  return freq / scaled;
}

// l3-tiny's rope: head_dim 32, base 500000; rope_scaling factor 8, low_freq_factor 1,
// high_freq_factor 4, original_max_position_embeddings 8192 (models/hf-l3-tiny/config.json).
double l3_tiny_factor(int i) { return llama3_freq_factor(500000.0, 32, i, 8.0, 1.0, 4.0, 8192.0); }

// The factors worked out by hand. Pair i has wavelength 2 pi * 500000^(i/16); the bounds are
// 8192 / 4 = 2048 and 8192 / 1 = 8192.
//   i = 7: 2 pi * 500000^(7/16) = 1956.5 < 2048            -> 1 (pairs 0..7 alike)
//   i = 8: 500000^(-1/2) = 1/707.10678, wavelength 4442.883 (between the bounds):
//          smooth = (8192 / 4442.883 - 1) / 3 = 0.2812826,
//          factor = 1 / ((1 - 0.2812826) / 8 + 0.2812826) = 1 / 0.3711223 = 2.694530
//   i = 9: 2 pi * 500000^(9/16) = 10089 > 8192              -> 8 (pairs 9..15 alike)
double hand_factor(int i) { return i < 8 ? 1.0 : i == 8 ? 2.694530 : 8.0; }

}  // namespace

TEST_CASE("llama3_rope_formula_matches_hand_values") {
  for (int i = 0; i < 16; ++i) CHECK_NEAR(l3_tiny_factor(i), hand_factor(i), 2e-6);
  // Checks of the formula's edges: no scaling when every wavelength is short, full division
  // when every one is long.
  CHECK_NEAR(llama3_freq_factor(10000.0, 8, 3, 8.0, 1.0, 4.0, 1e9), 1.0, 1e-12);
  CHECK_NEAR(llama3_freq_factor(10000.0, 8, 3, 8.0, 1.0, 4.0, 1.0), 8.0, 1e-12);
}

TEST_CASE("llama3_rope_freq_factors_read_from_l3_tiny_shared") {
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/l3-tiny-f16.gguf"));
  const loam::ModelConfig& c = model->config;
  CHECK_EQ(c.n_rot, 32);
  CHECK_NEAR(c.rope_freq_base, 500000.0, 0.0);
  REQUIRE(model->rope_freq_factors.size() == 16);
  for (int i = 0; i < 16; ++i) {
    // The converter computed them in float32.
    CHECK_NEAR(model->rope_freq_factors[i], hand_factor(i), 3e-6 * hand_factor(i));
    CHECK_NEAR(model->rope_freq_factors[i], l3_tiny_factor(i), 1e-6 * l3_tiny_factor(i));
  }
}

TEST_CASE("llama3_rope_cache_with_l3_tiny_factors_by_hand_shared") {
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/l3-tiny-f16.gguf"));
  REQUIRE(model->rope_freq_factors.size() == 16);
  const int n_pos = 1001, half = 16;
  std::vector<float> cos_t(static_cast<size_t>(n_pos) * half), sin_t(cos_t.size());
  loam::rope_build_cache(cos_t.data(), sin_t.data(), n_pos, 32, 500000.0f,
                         model->rope_freq_factors.data());
  // Angles at position 1000, by hand:
  //   pair 0: 1000 * 1 / 1 = 1000 rad
  //   pair 8: 1000 * 500000^(-1/2) / 2.694530 = 1.41421356 / 2.694530 = 0.5248461
  //   pair 9: 1000 * 500000^(-9/16) / 8 = 0.622772422 / 8 = 0.07784655
  struct Expect {
    int i;
    double angle;
  };
  for (const Expect e : {Expect{0, 1000.0}, Expect{8, 0.5248461}, Expect{9, 0.07784655}}) {
    const size_t at = static_cast<size_t>(1000) * half + e.i;
    CHECK_NEAR(cos_t[at], std::cos(e.angle), 2e-6);
    CHECK_NEAR(sin_t[at], std::sin(e.angle), 2e-6);
  }
  // Without the factors pair 9 would turn 8 times as far: the cache must not be that one.
  CHECK(std::fabs(sin_t[static_cast<size_t>(1000) * half + 9] - std::sin(8 * 0.07784655)) > 0.1);
}

TEST_CASE("rope_cache_divides_each_angle_by_its_factor") {
  // n_rot 4, base 100: unscaled angles pos * 1 and pos * 0.1; factors 1 and 4 -> pos * 0.025.
  const float factors[2] = {1.0f, 4.0f};
  std::vector<float> cos_t(3 * 2), sin_t(3 * 2);
  loam::rope_build_cache(cos_t.data(), sin_t.data(), 3, 4, 100.0f, factors);
  for (int p = 0; p < 3; ++p) {
    CHECK_NEAR(cos_t[p * 2 + 0], std::cos(p * 1.0), 1e-6);
    CHECK_NEAR(sin_t[p * 2 + 1], std::sin(p * 0.025), 1e-6);
    CHECK_NEAR(cos_t[p * 2 + 1], std::cos(p * 0.025), 1e-6);
  }
}

TEST_CASE("l3_tiny_shape_gqa_and_tied_embeddings_shared") {
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/l3-tiny-f16.gguf"));
  const loam::ModelConfig& c = model->config;
  CHECK_EQ(c.n_head, 4);
  CHECK_EQ(c.n_head_kv, 1);  // GQA 4:1
  CHECK_EQ(c.n_vocab, 128256);
  CHECK(c.tied_embeddings);
  // The logits matmul runs on the embedding table itself.
  CHECK(model->output.data == model->tok_embd.data);
  CHECK_EQ(model->vocab.size(), 128256);
}

TEST_CASE("a small model with rope_freqs.weight, GQA 8:1 and tied embeddings loads") {
  TinyLlamaSpec spec;
  spec.n_embd = 64;
  spec.n_head = 8;
  spec.n_head_kv = 1;  // 8:1
  spec.tied = true;
  spec.rope_freqs = {1.0f, 1.5f, 3.0f, 8.0f};  // head_dim 8: 4 pairs
  const std::string path = write_tiny("l3-like.gguf", spec);
  auto model = loam_test::load_or_stop(path);
  CHECK_EQ(model->config.n_head_kv, 1);
  CHECK(model->config.tied_embeddings);
  CHECK(model->rope_freq_factors == spec.rope_freqs);
  // Without the tensor there are no factors.
  spec.rope_freqs.clear();
  auto plain = loam_test::load_or_stop(write_tiny("l3-like-plain.gguf", spec));
  CHECK(plain->rope_freq_factors.empty());
}

TEST_CASE("rope_freqs.weight of the wrong length or with a bad factor is refused") {
  TinyLlamaSpec spec;  // head_dim 8: rope_freqs must hold 4 factors
  spec.rope_freqs = {1.0f, 2.0f, 4.0f};
  CHECK_ERROR(load(write_tiny("rope-short.gguf", spec)), "rope-short.gguf", "rope_freqs.weight",
              "[3]", "expected [4]", "rope dimension count 8");
  spec.rope_freqs = {1.0f, 2.0f, 4.0f, 8.0f, 8.0f};
  CHECK_ERROR(load(write_tiny("rope-long.gguf", spec)), "rope_freqs.weight", "[5]", "expected [4]");
  spec.rope_freqs = {1.0f, 0.0f, 4.0f, 8.0f};
  CHECK_ERROR(load(write_tiny("rope-zero.gguf", spec)), "rope_freqs.weight", "element 1",
              "positive");
  spec.rope_freqs = {1.0f, 2.0f, NAN, 8.0f};
  CHECK_ERROR(load(write_tiny("rope-nan.gguf", spec)), "rope_freqs.weight", "element 2");
}

TEST_CASE("llama.vocab_size that disagrees with the tokens or the embedding is refused") {
  TinyLlamaSpec spec;  // 16 tokens, token_embd [32, 16]
  spec.extra_keys.push_back({"llama.vocab_size", loam::GgufValue::make_u32(20)});
  CHECK_ERROR(load(write_tiny("vocab-size-tokens.gguf", spec)), "vocab-size-tokens.gguf",
              "llama.vocab_size' is 20", "tokenizer.ggml.tokens has 16 tokens");
  spec.with_vocab = false;
  CHECK_ERROR(load(write_tiny("vocab-size-embd.gguf", spec)), "vocab-size-embd.gguf",
              "llama.vocab_size' is 20", "token_embd.weight has 16 rows");
  // Agreeing: loads.
  spec.with_vocab = true;
  spec.extra_keys = {{"llama.vocab_size", loam::GgufValue::make_u32(16)}};
  CHECK(load(write_tiny("vocab-size-ok.gguf", spec)));
}

TEST_CASE("a model without token_embd.weight is refused") {
  TinyLlamaSpec spec;
  spec.omit_tensor = "token_embd.weight";
  CHECK_ERROR(load(write_tiny("no-embd.gguf", spec)), "no-embd.gguf",
              "missing tensor 'token_embd.weight'");
  spec.tied = true;  // nothing to take the logits from either
  CHECK_ERROR(load(write_tiny("no-embd-tied.gguf", spec)), "missing tensor 'token_embd.weight'");
  // Without a vocabulary too, nothing tells the vocabulary size.
  spec.with_vocab = false;
  CHECK_ERROR(load(write_tiny("no-embd-no-vocab.gguf", spec)), "no-embd-no-vocab.gguf",
              "vocabulary size");
}

TEST_CASE("linear rope scaling divides every angle; none ignores the factor; yarn is refused") {
  using loam::GgufValue;
  TinyLlamaSpec spec;  // head_dim 8: 4 pairs
  auto with_keys = [&](std::vector<loam::GgufKeyValue> keys, const std::string& name) {
    spec.extra_keys = std::move(keys);
    return write_tiny(name, spec);
  };
  // llama.cpp's default type is linear: a factor alone scales.
  auto m = loam_test::load_or_stop(
      with_keys({{"llama.rope.scaling.factor", GgufValue::make_f32(4.0f)}}, "lin-default.gguf"));
  CHECK(m->rope_freq_factors == std::vector<float>(4, 4.0f));
  CHECK_NEAR(m->config.rope_scale_linear, 4.0, 0.0);
  // The older key name.
  m = loam_test::load_or_stop(
      with_keys({{"llama.rope.scale_linear", GgufValue::make_f32(2.0f)}}, "lin-old.gguf"));
  CHECK(m->rope_freq_factors == std::vector<float>(4, 2.0f));
  // Linear scaling on top of rope_freqs.weight: the two divisors multiply.
  spec.rope_freqs = {1.0f, 2.0f, 4.0f, 8.0f};
  m = loam_test::load_or_stop(with_keys({{"llama.rope.scaling.type", GgufValue::make_string("linear")},
                                         {"llama.rope.scaling.factor", GgufValue::make_f32(2.0f)}},
                                        "lin-freqs.gguf"));
  CHECK(m->rope_freq_factors == std::vector<float>({2.0f, 4.0f, 8.0f, 16.0f}));
  spec.rope_freqs.clear();
  // "none": the factor is ignored.
  m = loam_test::load_or_stop(with_keys({{"llama.rope.scaling.type", GgufValue::make_string("none")},
                                         {"llama.rope.scaling.factor", GgufValue::make_f32(4.0f)}},
                                        "none.gguf"));
  CHECK(m->rope_freq_factors.empty());
  // Factor 1 or 0 (llama.cpp: unset) changes nothing.
  m = loam_test::load_or_stop(
      with_keys({{"llama.rope.scaling.factor", GgufValue::make_f32(0.0f)}}, "lin-zero.gguf"));
  CHECK(m->rope_freq_factors.empty());
  // Refused, naming the key and the value.
  CHECK_ERROR(load(with_keys({{"llama.rope.scaling.type", GgufValue::make_string("yarn")},
                              {"llama.rope.scaling.factor", GgufValue::make_f32(4.0f)}},
                             "yarn.gguf")),
              "yarn.gguf", "rope.scaling.type", "'yarn'", "does not support");
  CHECK_ERROR(load(with_keys({{"llama.rope.scaling.type", GgufValue::make_string("cubic")}},
                             "cubic.gguf")),
              "cubic.gguf", "'cubic'", "expected none, linear, yarn or longrope");
  CHECK_ERROR(load(with_keys({{"llama.rope.scaling.factor", GgufValue::make_f32(-2.0f)}},
                             "lin-negative.gguf")),
              "lin-negative.gguf", "rope scaling factor", "positive");
}
