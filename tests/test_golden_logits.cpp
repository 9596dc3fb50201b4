// The engine's logits against golden logits from an independent implementation for the F32,
// F16 and BF16 files (issue 2's acceptance; limits and row layout in reference/golden_files.h),
// and the tokenization of each golden prompt. Quantized goldens: test_golden_logits_quantized.cpp.
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/model.h"
#include "loam/tokenizer.h"
#include "reference/golden_files.h"
#include "reference/run_engine.h"

using loam_test::golden::Golden;
using loam_test::golden::Kind;
using loam_test::golden::first_matmul_type;
using loam_test::golden::read_goldens;
using loam_test::golden::run_goldens;

TEST_CASE("golden_logits_aidreams260K_gguf_shared") {
  run_goldens("models/aidreams260K.gguf", "aidreams260K", Kind::F32);
}

TEST_CASE("golden_logits_aidreams260K_bin_shared") {
  // Same weights as the GGUF, so the same goldens; the llama2.c file needs no tokenizer for ids.
  run_goldens("models/aidreams260K.bin", "aidreams260K", Kind::F32);
}

TEST_CASE("golden_logits_llama_2_tiny_random_shared") {
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/llama-2-tiny-random.gguf"));
  CHECK(first_matmul_type(*model) == loam::DType::F16);  // the tolerance below assumes F16
  run_goldens("models/llama-2-tiny-random.gguf", "llama-2-tiny-random", Kind::F16);
}

TEST_CASE("golden_logits_synth_tiny_f32_shared") {
  run_goldens("models/synth/synth-tiny-f32.gguf", "synth-tiny-f32", Kind::F32);
}

TEST_CASE("golden_logits_synth_tiny_F16_shared") {
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/synth/synth-tiny-F16.gguf"));
  CHECK(first_matmul_type(*model) == loam::DType::F16);
  run_goldens("models/synth/synth-tiny-F16.gguf", "synth-tiny-F16", Kind::F16);
}

TEST_CASE("golden_logits_synth_tiny_BF16_shared") {
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/synth/synth-tiny-BF16.gguf"));
  CHECK(first_matmul_type(*model) == loam::DType::BF16);
  run_goldens("models/synth/synth-tiny-BF16.gguf", "synth-tiny-BF16", Kind::BF16);
}

TEST_CASE("golden_logits_l3_tiny_f16_shared") {
  // Llama 3 shape: byte-level BPE vocab of 128256, rope base 500000 with Llama 3.1 rope scaling
  // (rope_freqs.weight), GQA 4:1, tied embeddings. The goldens sit in golden/llama3/. (At the
  // golden's 42 positions the rope factors barely matter: test_reference_forward_l3_tiny.cpp
  // checks them on a long prompt.)
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/l3-tiny-f16.gguf"));
  CHECK(first_matmul_type(*model) == loam::DType::F16);
  CHECK(model->config.tied_embeddings);
  CHECK_EQ(model->rope_freq_factors.size(), size_t{16});
  run_goldens("models/l3-tiny-f16.gguf", "l3-tiny-f16", Kind::F16);
}

TEST_CASE("golden_greedy_tokens_l3_tiny_f16_shared") {
  // Free-running greedy decoding (each step fed its own argmax) gives the golden's tokens.
  auto model = loam_test::load_or_stop(loam_test::shared_file("models/l3-tiny-f16.gguf"));
  for (const Golden& g : read_goldens("l3-tiny-f16")) {
    auto session = loam_test::session_or_stop(model, 2, 0);
    REQUIRE(session->eval(g.prompt, nullptr));
    std::vector<int32_t> got;
    for (size_t i = 0; i < g.generated.size(); ++i) {
      const float* row = session->logits();
      int32_t best = 0;
      for (int32_t v = 1; v < model->config.n_vocab; ++v) best = row[v] > row[best] ? v : best;
      got.push_back(best);
      REQUIRE(session->eval(&best, 1, nullptr));
    }
    CHECK(got == g.generated);
    // And the text those tokens decode to is the golden continuation, byte for byte.
    REQUIRE(!model->vocab.empty());
    const loam::Tokenizer tokenizer(model->vocab);
    REQUIRE(!g.text.empty());
    CHECK_EQ(tokenizer.decode(got), g.text);
  }
}

TEST_CASE("golden_prompt_tokenization_shared") {
  // Each golden prompt, tokenized with the model's own vocabulary, gives its prompt_tokens.
  struct Item {
    const char* model;
    const char* tokenizer;  // llama2.c tokenizer.bin for a .bin model, else ""
    const char* stem;
  };
  const Item items[] = {
      {"models/aidreams260K.gguf", "", "aidreams260K"},
      {"models/aidreams260K.bin", "models/tok512.bin", "aidreams260K"},
      {"models/llama-2-tiny-random.gguf", "", "llama-2-tiny-random"},
      {"models/synth/synth-tiny-f32.gguf", "", "synth-tiny-f32"},
      {"models/l3-tiny-f16.gguf", "", "l3-tiny-f16"},  // byte-level BPE (llama-bpe)
  };
  for (const Item& it : items) {
    loam::LoadOptions opts;
    if (*it.tokenizer) opts.tokenizer_path = loam_test::shared_file(it.tokenizer);
    auto model = loam_test::load_or_stop(loam_test::shared_file(it.model), opts);
    REQUIRE(!model->vocab.empty());
    const loam::Tokenizer tokenizer(model->vocab);
    for (const Golden& g : read_goldens(it.stem)) {
      const std::vector<int32_t> ids = tokenizer.encode(g.prompt_text, g.add_bos);
      if (ids != g.prompt) {
        std::string got;
        for (int32_t id : ids) got += std::to_string(id) + " ";
        loam_test::record_failure(__FILE__, __LINE__,
                                  std::string(it.model) + " " + g.name + ": tokens " + got);
      }
    }
  }
}
