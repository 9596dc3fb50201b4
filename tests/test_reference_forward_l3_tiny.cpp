// The engine against the independent double-precision reference (tests/reference/llama_reference.h)
// on ../shared/models/l3-tiny-f16.gguf: Llama 3.1 rope scaling, rope base 500000, GQA 4:1, tied
// embeddings, a 128256-token vocabulary.
//
// The reference gets the weights from the GGUF tensor table (decoded from F16 by its own
// converter) and its shape and rope scaling from the fixture's documented config
// (../shared/README.md, models/hf-l3-tiny/config.json), not from the engine's loader: the rope
// factors come from Meta's formula, so the file's rope_freqs.weight, the loader and the rope cache
// are all checked against it. The prompt is long (1000 tokens), because the factors only change
// the angles of the slow pairs, which matter only far into a sequence: at 40 tokens (the golden's
// length) a forward without them still matches the golden.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness/test.h"
#include "kernels/kernels.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "reference/llama_reference.h"
#include "reference/run_engine.h"

namespace {

using loam_ref::RefConfig;
using loam_ref::RefModel;

constexpr double kPi = 3.14159265358979323846;

// Meta's Llama 3.1 rope scaling (see test_llama3_model.cpp for the formula written out):
// factor 8, low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 8192.
std::vector<double> llama3_factors(double base, int dim) {
  std::vector<double> out;
  for (int i = 0; i < dim / 2; ++i) {
    const double freq = std::pow(base, -2.0 * i / dim), wavelen = 2.0 * kPi / freq;
    double scaled = freq;
    if (wavelen > 8192.0 / 1.0) {
      scaled = freq / 8.0;
    } else if (wavelen >= 8192.0 / 4.0) {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      scaled = (1.0 - smooth) * freq / 8.0 + smooth * freq;
    }
    out.push_back(freq / scaled);
  }
  return out;
}

// Copies tensor `name` ([rows][cols], F32 or F16) into `out`, decoding F16 with the reference's
// own converter; checks the shape against the documented one.
void read_tensor(const loam::GgufFile& f, const std::string& name, int64_t cols, int64_t rows,
                 std::vector<float>& out) {
  const loam::GgufTensorInfo* t = f.find_tensor(name);
  if (t == nullptr) loam_test::record_failure(__FILE__, __LINE__, "no tensor " + name);
  REQUIRE(t != nullptr);
  REQUIRE(t->ne[0] == cols && t->ne[1] == rows && t->ne[2] == 1 && t->ne[3] == 1);
  const size_t n = static_cast<size_t>(cols * rows);
  out.resize(n);
  const uint8_t* src = static_cast<const uint8_t*>(t->data);
  if (t->type == loam::DType::F32) {
    std::memcpy(out.data(), src, n * 4);
  } else {
    REQUIRE(t->type == loam::DType::F16);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
      out[i] = static_cast<float>(loam_ref::half_bits_to_double(h));
    }
  }
}

// Appends tensor `name` of layer-stacked array `dst`.
void append_tensor(const loam::GgufFile& f, const std::string& name, int64_t cols, int64_t rows,
                   std::vector<float>& dst) {
  std::vector<float> t;
  read_tensor(f, name, cols, rows, t);
  dst.insert(dst.end(), t.begin(), t.end());
}

RefModel l3_tiny_reference(const std::string& path) {
  loam::GgufFile f;
  const loam::Status st = loam::GgufFile::open(path, f);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, st.message());
  REQUIRE(st);
  RefModel m;
  m.c = loam_ref::make_config(128, 384, 2, 4, 1, 128256, /*shared_classifier=*/true, 8192);
  m.c.rope_base = 500000.0;
  m.c.rms_eps = 1e-5;
  m.c.rope_freq_factors = llama3_factors(500000.0, 32);
  const int64_t d = 128, kv = 32, ff = 384;
  read_tensor(f, "token_embd.weight", d, 128256, m.tok_embd);
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    append_tensor(f, p + "attn_norm.weight", d, 1, m.rms_att);
    append_tensor(f, p + "attn_q.weight", d, d, m.wq);
    append_tensor(f, p + "attn_k.weight", d, kv, m.wk);
    append_tensor(f, p + "attn_v.weight", d, kv, m.wv);
    append_tensor(f, p + "attn_output.weight", d, d, m.wo);
    append_tensor(f, p + "ffn_norm.weight", d, 1, m.rms_ffn);
    append_tensor(f, p + "ffn_gate.weight", d, ff, m.w1);
    append_tensor(f, p + "ffn_up.weight", d, ff, m.w3);
    append_tensor(f, p + "ffn_down.weight", ff, d, m.w2);
  }
  read_tensor(f, "output_norm.weight", d, 1, m.rms_final);
  REQUIRE(f.find_tensor("output.weight") == nullptr);  // tied: logits use token_embd
  return m;
}

}  // namespace

TEST_CASE("reference_forward_l3_tiny_long_prompt_shared") {
  const std::string path = loam_test::shared_file("models/l3-tiny-f16.gguf");
  RefModel ref_model = l3_tiny_reference(path);
  auto model = loam_test::load_or_stop(path);

  const int n = 1000, first_checked = n - 4;
  loam_ref::Rng rng(1234);
  std::vector<int32_t> tokens(n);
  for (int32_t& t : tokens) t = rng.below(128000);  // ordinary tokens
  tokens[0] = 128000;                                // <|begin_of_text|>
  const std::vector<double> ref = loam_ref::reference_forward(ref_model, tokens, first_checked);
  // The same reference without the rope factors: what a loader that drops them computes.
  RefModel unscaled = ref_model;
  unscaled.c.rope_freq_factors.clear();
  const std::vector<double> ref_unscaled = loam_ref::reference_forward(unscaled, tokens, first_checked);

  const size_t V = 128256;
  // [n - first_checked][V]: the prompt up to the checked rows in one eval, then those rows.
  auto session = loam_test::session_or_stop(model, 2, n);
  REQUIRE(session->eval(tokens.data(), first_checked, nullptr));
  std::vector<float> got;
  REQUIRE(session->eval(tokens.data() + first_checked, n - first_checked, &got));
  REQUIRE(got.size() == (n - first_checked) * V);
  // Float arithmetic alone when the F16 kernel keeps f32 activations; when it rounds activations
  // (as the golden's reference does), the golden limit.
  const bool f32_acts =
      loam::kernels().weights[static_cast<uint32_t>(loam::DType::F16)].act_type == loam::DType::F32;
  const double limit = f32_acts ? 1e-4 : 5e-3;
  double worst = 0, worst_unscaled = 1e30;
  for (int r = first_checked; r < n; ++r) {
    const size_t off = static_cast<size_t>(r - first_checked) * V;
    const loam_test::RowStats s = loam_test::row_stats(&got[off], &ref[off], V);
    const loam_test::RowStats u = loam_test::row_stats(&ref_unscaled[off], &ref[off], V);
    worst = std::max(worst, s.rel_rms);
    worst_unscaled = std::min(worst_unscaled, u.rel_rms);
    if (!(s.rel_rms <= limit)) {
      char msg[160];
      std::snprintf(msg, sizeof msg, "row %d: rel RMS %.3g > %.3g", r, s.rel_rms, limit);
      loam_test::record_failure(__FILE__, __LINE__, msg);
    }
  }
  std::fprintf(stderr,
               "  l3-tiny, %d tokens, rows %d..%d: engine vs reference worst rel RMS %.3g; "
               "reference without rope factors differs by at least %.3g\n",
               n, first_checked, n - 1, worst, worst_unscaled);
  // The test can tell: leaving the factors out moves every checked row far beyond the limit.
  CHECK(worst_unscaled > 5 * limit);
}
