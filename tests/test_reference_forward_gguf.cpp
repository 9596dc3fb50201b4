// The engine against the independent double-precision reference (tests/reference/llama_reference.h)
// on random models written as GGUF with F32, F16 and BF16 weights, with non-default rope base,
// RMS epsilon and partial rotary dimensions taken from the llama.* keys.
//
// Weights are rounded to F16 / BF16 by the test's own converter, and the reference runs on the
// rounded values, so weight rounding is not an error source. When the engine's kernel for the
// weight type keeps f32 activations, the only difference is float arithmetic: per row max |diff|
// <= 1e-4 * max(1, max |ref|), as in test_reference_forward.cpp. When the kernel rounds
// activations to another format, the golden limits apply instead (rel RMS 5e-3 F16, 1.5e-2 BF16).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "formats/gguf_writer.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "reference/llama_reference.h"
#include "reference/run_engine.h"

namespace {

using loam_ref::RefConfig;
using loam_ref::RefModel;

// Rounds src[0..n) to `type` in place (our own converters) and returns the file bytes.
std::vector<uint8_t> encode_rounding(float* src, size_t n, loam::DType type) {
  std::vector<uint8_t> bytes;
  if (type == loam::DType::F32) {
    bytes.resize(n * 4);
    std::memcpy(bytes.data(), src, n * 4);
    return bytes;
  }
  bytes.resize(n * 2);
  for (size_t i = 0; i < n; ++i) {
    uint16_t bits;
    if (type == loam::DType::F16) {
      bits = loam_ref::double_to_half_bits(src[i]);
      src[i] = static_cast<float>(loam_ref::half_bits_to_double(bits));
    } else {
      bits = loam_ref::float_to_bf16_bits(src[i]);
      src[i] = static_cast<float>(loam_ref::bf16_bits_to_double(bits));
    }
    bytes[2 * i] = static_cast<uint8_t>(bits & 0xff);  // little-endian
    bytes[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
  }
  return bytes;
}

// Writes `m` as a llama GGUF with matrices in `type` and norms in F32; rounds m's matrices to what
// was written. Norm tensors stay F32, as converters write them.
void write_gguf(RefModel& m, loam::DType type, const std::string& path) {
  const RefConfig& c = m.c;
  loam::GgufWriter w;
  using V = loam::GgufValue;
  w.set("general.architecture", V::make_string("llama"));
  w.set("general.name", V::make_string("reference-test"));
  w.set("llama.context_length", V::make_u32(c.seq_len));
  w.set("llama.embedding_length", V::make_u32(c.dim));
  w.set("llama.block_count", V::make_u32(c.n_layers));
  w.set("llama.feed_forward_length", V::make_u32(c.hidden));
  w.set("llama.attention.head_count", V::make_u32(c.n_heads));
  w.set("llama.attention.head_count_kv", V::make_u32(c.n_kv_heads));
  w.set("llama.rope.dimension_count", V::make_u32(c.rot()));
  w.set("llama.rope.freq_base", V::make_f32(static_cast<float>(c.rope_base)));
  w.set("llama.attention.layer_norm_rms_epsilon", V::make_f32(static_cast<float>(c.rms_eps)));
  const int64_t d = c.dim, kv = c.kv_dim(), hid = c.hidden, V_ = c.vocab;
  auto add = [&](const std::string& name, float* data, int64_t cols, int64_t rows, loam::DType t) {
    const size_t n = static_cast<size_t>(cols * rows);
    const std::vector<uint8_t> bytes = encode_rounding(data, n, t);
    std::vector<int64_t> ne = {cols};
    if (rows > 1) ne.push_back(rows);
    const loam::Status st = w.add_tensor(name, t, ne, bytes.data(), bytes.size());
    if (!st) loam_test::record_failure(__FILE__, __LINE__, "add_tensor: " + st.message());
    REQUIRE(st);
  };
  add("token_embd.weight", m.tok_embd.data(), d, V_, type);
  std::vector<float> factors(c.rope_freq_factors.begin(), c.rope_freq_factors.end());
  if (!factors.empty()) {  // exact in f32: the tests pick factors that are
    add("rope_freqs.weight", factors.data(), static_cast<int64_t>(factors.size()), 1,
        loam::DType::F32);
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", &m.rms_att[l * d], d, 1, loam::DType::F32);
    add(p + "attn_q.weight", &m.wq[l * d * d], d, d, type);
    add(p + "attn_k.weight", &m.wk[l * kv * d], d, kv, type);
    add(p + "attn_v.weight", &m.wv[l * kv * d], d, kv, type);
    add(p + "attn_output.weight", &m.wo[l * d * d], d, d, type);
    add(p + "ffn_norm.weight", &m.rms_ffn[l * d], d, 1, loam::DType::F32);
    add(p + "ffn_gate.weight", &m.w1[l * hid * d], d, hid, type);
    add(p + "ffn_up.weight", &m.w3[l * hid * d], d, hid, type);
    add(p + "ffn_down.weight", &m.w2[l * d * hid], hid, d, type);
  }
  add("output_norm.weight", m.rms_final.data(), d, 1, loam::DType::F32);
  if (!c.shared_classifier) add("output.weight", m.wcls.data(), d, V_, type);
  const loam::Status st = w.write(path);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, "GgufWriter::write: " + st.message());
  REQUIRE(st);
}

RefConfig shape(int dim, int hidden, int layers, int heads, int kv_heads, int vocab, bool shared) {
  return loam_ref::make_config(dim, hidden, layers, heads, kv_heads, vocab, shared, 64);
}

// Writes, loads and compares one model; prints the worst figures.
void run_case(RefConfig c, loam::DType type, uint64_t seed, const std::string& name) {
  RefModel m = loam_ref::make_random_model(c, seed);
  const std::string path = loam_test::temp_dir() + "/" + name + ".gguf";
  write_gguf(m, type, path);  // m now holds the rounded weights
  auto model = loam_test::load_or_stop(path);
  CHECK_EQ(model->config.n_head_kv, c.n_kv_heads);
  CHECK_EQ(model->config.n_rot, c.rot());
  CHECK_EQ(model->rope_freq_factors.size(), c.rope_freq_factors.size());
  CHECK_EQ(model->config.tied_embeddings, c.shared_classifier);
  CHECK(model->layers.size() == static_cast<size_t>(c.n_layers) &&
        model->layers[0].wq.type == type);

  loam_ref::Rng rng(seed + 1);
  std::vector<int32_t> tokens(24);
  for (int32_t& t : tokens) t = rng.below(c.vocab);
  const std::vector<double> ref = loam_ref::reference_forward(m, tokens);
  const bool f32_acts = loam::kernels().weights[static_cast<uint32_t>(type)].act_type ==
                        loam::DType::F32;
  const double rms_limit = type == loam::DType::BF16 ? 1.5e-2 : 5e-3;
  for (int chunk : {0, 1}) {
    const std::vector<float> got = loam_test::engine_logits(model, tokens, 2, chunk, c.seq_len);
    double worst_rel_max = 0, worst_rms = 0;
    int reported = 0;
    for (size_t r = 0; r < tokens.size(); ++r) {
      const size_t off = r * c.vocab;
      const loam_test::RowStats s = loam_test::row_stats(&got[off], &ref[off], c.vocab);
      const double rel = s.max_abs / std::max(1.0, s.max_abs_ref);
      worst_rel_max = std::max(worst_rel_max, rel);
      worst_rms = std::max(worst_rms, s.rel_rms);
      const bool ok = f32_acts ? rel <= 1e-4 : s.rel_rms <= rms_limit;
      if (!ok && reported++ < 3) {
        char msg[200];
        std::snprintf(msg, sizeof msg, "%s %s: row %zu max|diff| %.3g (max|ref| %.3g) rel RMS %.3g",
                      name.c_str(), chunk ? "token by token" : "one eval", r, s.max_abs,
                      s.max_abs_ref, s.rel_rms);
        loam_test::record_failure(__FILE__, __LINE__, msg);
      }
    }
    std::fprintf(stderr, "  %-34s %-14s worst max|diff|/max(1,max|ref|) %.3g, rel RMS %.3g%s\n",
                 name.c_str(), chunk ? "token by token" : "one eval", worst_rel_max, worst_rms,
                 f32_acts ? "" : " (kernel rounds activations)");
  }
}

}  // namespace

TEST_CASE("reference_forward_gguf_f32_gqa_rope_base_eps") {
  RefConfig c = shape(64, 96, 2, 8, 2, 90, false);
  c.rope_base = 500000.0;  // Llama-3 style base: a loader ignoring the key gets other angles
  c.rms_eps = 1e-6;
  run_case(c, loam::DType::F32, 501, "f32_gqa_base5e5_eps1e-6");
}

TEST_CASE("reference_forward_gguf_f16_gqa_untied") {
  run_case(shape(64, 128, 2, 8, 2, 100, false), loam::DType::F16, 601, "f16_gqa8x2_untied");
}

TEST_CASE("reference_forward_gguf_f16_mha_tied_odd_dims") {
  run_case(shape(48, 100, 3, 4, 4, 75, true), loam::DType::F16, 701, "f16_mha_tied_dim48_ffn100");
}

TEST_CASE("reference_forward_gguf_bf16_gqa_tied") {
  run_case(shape(64, 96, 2, 8, 2, 100, true), loam::DType::BF16, 801, "bf16_gqa8x2_tied");
}

TEST_CASE("reference_forward_gguf_bf16_mqa_untied_odd_dims") {
  run_case(shape(48, 100, 2, 6, 1, 77, false), loam::DType::BF16, 901, "bf16_mqa6x1_dim48_ffn100");
}

TEST_CASE("reference_forward_gguf_llama3_rope_factors_gqa8_tied") {
  // Llama 3 shape: GQA 8:1, tied embeddings, base 500000 and rope_freqs.weight. 64 positions are
  // too few for Llama 3.1's real factors to matter, so these are large: pair i turns 2^i times
  // slower.
  RefConfig c = shape(64, 96, 2, 8, 1, 90, true);
  c.rope_base = 500000.0;
  c.rope_freq_factors = {1, 2, 4, 8};  // head_dim 8: 4 pairs
  run_case(c, loam::DType::F16, 1101, "f16_gqa8x1_tied_rope_factors");
}

TEST_CASE("reference_forward_gguf_partial_rotary") {
  // rope.dimension_count 8 of head_dim 16: dims 8..15 of each head must not be rotated.
  RefConfig c = shape(64, 96, 2, 4, 2, 80, false);
  c.n_rot = 8;
  run_case(c, loam::DType::F16, 1001, "f16_partial_rotary_8_of_16");
}
