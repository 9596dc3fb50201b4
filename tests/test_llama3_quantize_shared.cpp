// Quantizing a Llama-3-shaped file with tied embeddings and rope_freqs.weight
// (../shared/models/l3-tiny-f16.gguf), and what `loam info` shows for it and for linear rope
// scaling.
//
// llama-quantize (src/llama-quant.cpp) quantizes token_embd.weight as it would output.weight when
// the model has no output.weight (the embedding table then is the output projection): Q6_K,
// unless the file type is Q8_0 or the row length does not fit the base type's block (then Q8_0);
// Q6_K on a row of 128 (not a multiple of 256) then falls back to Q8_0. 1-D tensors such as
// rope_freqs.weight are copied unchanged (F32).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "format_fixtures.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "quant/quantize_model.h"
#include "reference/golden_files.h"
#include "reference/run_engine.h"

namespace {

const loam::GgufTensorInfo* tensor(const loam::GgufFile& f, const std::string& name) {
  const loam::GgufTensorInfo* t = f.find_tensor(name);
  if (t == nullptr) loam_test::record_failure(__FILE__, __LINE__, "no tensor " + name);
  REQUIRE(t != nullptr);
  return t;
}

}  // namespace

TEST_CASE("l3_tiny_quantized_tied_embedding_and_rope_freqs_shared") {
  const std::string in = loam_test::shared_file("models/l3-tiny-f16.gguf");
  loam::GgufFile src;
  REQUIRE(loam::GgufFile::open(in, src));
  struct Case {
    loam::FileType type;
    loam::DType embd;  // token_embd.weight, by llama-quantize's rules (see the top of the file)
    loam::DType attn_q;
  };
  const Case cases[] = {
      {loam::FileType::MostlyQ8_0, loam::DType::Q8_0, loam::DType::Q8_0},
      {loam::FileType::MostlyQ4_0, loam::DType::Q8_0, loam::DType::Q4_0},  // Q6_K -> Q8_0
      {loam::FileType::MostlyQ4_K_M, loam::DType::Q8_0, loam::DType::Q5_0},  // 128 < 256
  };
  for (const Case& c : cases) {
    const std::string out = loam_test::temp_dir() + "/l3-tiny-" + loam::file_type_name(c.type) + ".gguf";
    loam::QuantizeOptions opts;
    opts.file_type = c.type;
    opts.n_threads = 2;
    const loam::Status st = loam::quantize_model(in, out, opts);
    if (!st) loam_test::record_failure(__FILE__, __LINE__, st.message());
    REQUIRE(st);
    loam::GgufFile q;
    REQUIRE(loam::GgufFile::open(out, q));
    CHECK(q.find_tensor("output.weight") == nullptr);  // still tied
    CHECK(tensor(q, "token_embd.weight")->type == c.embd);
    CHECK(tensor(q, "blk.0.attn_q.weight")->type == c.attn_q);
    // rope_freqs.weight: copied, F32, the same bytes.
    const loam::GgufTensorInfo* a = tensor(src, "rope_freqs.weight");
    const loam::GgufTensorInfo* b = tensor(q, "rope_freqs.weight");
    CHECK(b->type == loam::DType::F32);
    REQUIRE(a->nbytes == b->nbytes && a->nbytes == 16 * sizeof(float));
    CHECK(std::memcmp(a->data, b->data, a->nbytes) == 0);

    // The quantized model loads with the same factors and runs. (Its distance from the F16
    // golden is only printed: on random weights this small, 4-bit rounding moves the logits by
    // 10-25% RMS, so no limit would say anything about the code.)
    auto model = loam_test::load_or_stop(out);
    CHECK_EQ(model->rope_freq_factors.size(), size_t{16});
    CHECK(model->config.tied_embeddings);
    for (const auto& g : loam_test::golden::read_goldens("l3-tiny-f16")) {
      const std::vector<float> rows = loam_test::golden::engine_rows(model, g, false);
      const size_t V = static_cast<size_t>(g.n_vocab);
      REQUIRE(rows.size() == g.logits.size());
      double worst = 0;
      int agree = 0;
      for (size_t r = 0; r * V < rows.size(); ++r) {
        const loam_test::RowStats st = loam_test::row_stats(&rows[r * V], &g.logits[r * V], V);
        CHECK(st.finite);
        worst = std::max(worst, st.rel_rms);
        agree += st.argmax_equal ? 1 : 0;
      }
      std::fprintf(stderr, "  l3-tiny %s: worst rel RMS %.3g vs the F16 golden, argmax %d/%zu\n",
                   loam::file_type_name(c.type), worst, agree, rows.size() / V);
    }
  }
}

TEST_CASE("shared: cli: loam info shows rope scaling, GQA ratio and tied embeddings of l3-tiny") {
  const std::string path = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const loam_cli_test::Result r = loam_cli_test::run(std::vector<std::string>{"info", "-m", path});
  CHECK_EQ(r.code, 0);
  CHECK(r.out.find("rope scaling             factors 1..8 (rope_freqs.weight, 16 values)") !=
        std::string::npos);
  CHECK(r.out.find("rope freq base           500000\n") != std::string::npos);
  CHECK(r.out.find("(grouped-query attention, 4:1)") != std::string::npos);
  CHECK(r.out.find("tied embeddings          yes") != std::string::npos);
}

TEST_CASE("cli: loam info shows linear rope scaling") {
  loam_test::TinyLlamaSpec spec;
  spec.extra_keys = {{"llama.rope.scaling.type", loam::GgufValue::make_string("linear")},
                     {"llama.rope.scaling.factor", loam::GgufValue::make_f32(4.0f)}};
  const std::string path = loam_test::write_tiny("linear-rope.gguf", spec);
  const loam_cli_test::Result r = loam_cli_test::run(std::vector<std::string>{"info", "-m", path});
  CHECK_EQ(r.code, 0);
  CHECK(r.out.find("rope scaling             linear, factor 4\n") != std::string::npos);
  spec.extra_keys.clear();
  const std::string plain = loam_test::write_tiny("no-rope-scaling.gguf", spec);
  const loam_cli_test::Result p = loam_cli_test::run(std::vector<std::string>{"info", "-m", plain});
  CHECK(p.out.find("rope scaling             none\n") != std::string::npos);
}
