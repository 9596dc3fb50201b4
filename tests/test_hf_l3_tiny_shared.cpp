// ../shared/models/hf-l3-tiny (the Hugging Face form of l3-tiny-f16.gguf): its logits against the
// golden golden/llama3/l3-tiny-f16.p1 (F16 tolerance, rel RMS 5e-3 per row) through the library
// and through `loam logits -m DIR`; greedy tokens; `loam convert` gives tensors byte-equal to
// l3-tiny-f16.gguf's (compared by name) and the same logits as the directory.
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"
#include "loam/tokenizer.h"
#include "loam/gguf.h"
#include "model/load_hf.h"
#include "reference/golden_files.h"
#include "reference/run_engine.h"

namespace {

using loam_test::golden::Golden;

std::shared_ptr<const loam::Model> load_dir(const std::string& path) {
  auto model = std::make_shared<loam::Model>();
  const loam::Status st = loam::load_hf_model(path, loam::LoadOptions{}, *model);
  if (!st) {
    loam_test::record_failure(__FILE__, __LINE__, "load_hf_model: " + st.message());
    throw loam_test::StopCase{};
  }
  return model;
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s;
  for (const int32_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// `loam logits` of prompt + generated tokens; returns the float rows.
std::vector<float> cli_logits(const std::string& model, const Golden& g, const std::string& out) {
  std::vector<int32_t> tokens = g.prompt;
  tokens.insert(tokens.end(), g.generated.begin(), g.generated.end());
  const loam_cli_test::Result r =
      loam_cli_test::run({"logits", "-m", model, "--tokens", ids_text(tokens), "-o", out, "-t",
                          "2"});
  if (r.code != 0) {
    loam_test::record_failure(__FILE__, __LINE__, "loam logits: " + r.err);
    throw loam_test::StopCase{};
  }
  const std::string raw = loam_cli_test::slurp(out);
  std::vector<float> rows(raw.size() / sizeof(float));
  std::memcpy(rows.data(), raw.data(), rows.size() * sizeof(float));
  return rows;
}

}  // namespace

TEST_CASE("hf_l3_tiny_golden_logits_shared") {
  const std::string dir = loam_test::shared_file("models/hf-l3-tiny");
  auto model = load_dir(dir);
  CHECK(model->config.tied_embeddings);
  CHECK(model->vocab.model == "gpt2");
  CHECK_EQ(model->vocab.size(), 128256);
  CHECK_EQ(model->vocab.bos_id, 128000);
  CHECK_EQ(model->vocab.eos_id, 128001);
  const std::vector<Golden> goldens = loam_test::golden::read_goldens("l3-tiny-f16");
  REQUIRE(!goldens.empty());
  for (const bool decode_path : {true, false}) {
    loam_test::golden::Worst w;
    for (const Golden& g : goldens) {
      loam_test::golden::check_rows(g, loam_test::golden::engine_rows(model, g, decode_path),
                                    loam_test::golden::Kind::F16, w,
                                    decode_path ? "token by token" : "one eval");
    }
    std::fprintf(stderr, "  hf-l3-tiny (%s): worst rel RMS %.3g, argmax agreement %d/%d\n",
                 decode_path ? "token by token" : "one eval", w.rel_rms, w.argmax_agree, w.rows);
  }
}

TEST_CASE("hf_l3_tiny_greedy_tokens_shared") {
  auto model = load_dir(loam_test::shared_file("models/hf-l3-tiny"));
  for (const Golden& g : loam_test::golden::read_goldens("l3-tiny-f16")) {
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
  }
}

TEST_CASE("hf_l3_tiny_cli_logits_and_convert_shared") {
  const std::string dir = loam_test::shared_file("models/hf-l3-tiny");
  const std::string gguf_path = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const std::vector<Golden> goldens = loam_test::golden::read_goldens("l3-tiny-f16");
  REQUIRE(!goldens.empty());
  const Golden& g = goldens[0];
  const size_t V = static_cast<size_t>(g.n_vocab);

  // `loam logits -m DIR` against the golden, row by row from the prompt's last token on.
  const std::vector<float> from_dir = cli_logits(dir, g, loam_test::temp_dir() + "/dir.f32");
  const size_t rows = g.prompt.size() + g.generated.size();
  REQUIRE(from_dir.size() == rows * V);
  const std::vector<float> tail(from_dir.begin() + (g.prompt.size() - 1) * V, from_dir.end());
  loam_test::golden::Worst w;
  loam_test::golden::check_rows(g, tail, loam_test::golden::Kind::F16, w, "loam logits -m DIR");
  std::fprintf(stderr, "  loam logits -m hf-l3-tiny: worst rel RMS %.3g\n", w.rel_rms);

  // `loam convert DIR OUT`: the same tensors as l3-tiny-f16.gguf, byte for byte, by name.
  const std::string out = loam_test::temp_dir() + "/l3-tiny-converted.gguf";
  const loam_cli_test::Result r = loam_cli_test::run({"convert", dir, out});
  REQUIRE(r.code == 0);
  loam::GgufFile converted, reference;
  REQUIRE(loam::GgufFile::open(out, converted));
  REQUIRE(loam::GgufFile::open(gguf_path, reference));
  CHECK_EQ(converted.tensors().size(), reference.tensors().size());
  for (const loam::GgufTensorInfo& want : reference.tensors()) {
    const loam::GgufTensorInfo* got = converted.find_tensor(want.name);
    if (got == nullptr) {
      loam_test::record_failure(__FILE__, __LINE__, "converted file lacks " + want.name);
      continue;
    }
    CHECK(got->type == want.type);
    CHECK(std::memcmp(got->ne, want.ne, sizeof want.ne) == 0);
    const bool same = got->nbytes == want.nbytes &&
                      std::memcmp(got->data, want.data, want.nbytes) == 0;
    if (!same) loam_test::record_failure(__FILE__, __LINE__, "tensor differs: " + want.name);
  }
  // The keys a llama.cpp loader needs, with the reference's values.
  for (const char* key : {"llama.block_count", "llama.embedding_length",
                          "llama.feed_forward_length",
                          "llama.attention.head_count", "llama.attention.head_count_kv",
                          "llama.rope.dimension_count", "llama.context_length",
                          "llama.vocab_size", "tokenizer.ggml.bos_token_id",
                          "tokenizer.ggml.eos_token_id", "general.file_type"}) {
    int64_t a = -1, b = -2;
    REQUIRE(converted.get_int(key, a));
    REQUIRE(reference.get_int(key, b));
    if (a != b) loam_test::record_failure(__FILE__, __LINE__, std::string("key differs: ") + key);
  }
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"}) {
    std::vector<std::string> a, b;
    REQUIRE(converted.get_string_array(key, a));
    REQUIRE(reference.get_string_array(key, b));
    if (a != b) loam_test::record_failure(__FILE__, __LINE__, std::string("key differs: ") + key);
  }
  std::vector<int64_t> ta, tb;
  REQUIRE(converted.get_int_array("tokenizer.ggml.token_type", ta));
  REQUIRE(reference.get_int_array("tokenizer.ggml.token_type", tb));
  CHECK(ta == tb);
  for (const char* key :
       {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template"}) {
    std::string a, b;
    REQUIRE(converted.get_string(key, a));
    REQUIRE(reference.get_string(key, b));
    if (a != b) loam_test::record_failure(__FILE__, __LINE__, std::string("key differs: ") + key);
  }
  double fa = 0, fb = 0;
  REQUIRE(converted.get_float("llama.rope.freq_base", fa));
  REQUIRE(reference.get_float("llama.rope.freq_base", fb));
  CHECK_EQ(fa, fb);

  // The converted file's logits equal the directory's.
  const std::vector<float> from_gguf = cli_logits(out, g, loam_test::temp_dir() + "/conv.f32");
  CHECK(from_gguf == from_dir);
}

TEST_CASE("hf_l3_tiny_info_matches_gguf_shared") {
  const std::string dir = loam_test::shared_file("models/hf-l3-tiny");
  const std::string gguf_path = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const loam_cli_test::Result a = loam_cli_test::run({"info", dir});
  const loam_cli_test::Result b = loam_cli_test::run({"info", gguf_path});
  REQUIRE(a.code == 0 && b.code == 0);
  CHECK(a.out.find("Hugging Face checkpoint") != std::string::npos);
  // Hyperparameters and vocabulary are printed identically.
  // (The chat template line is left out: `loam info` detects it from GGUF files only so far.)
  auto section = [](const std::string& s) {
    const size_t from = s.find("architecture:"), to = s.find("metadata (");
    std::string out, line;
    std::istringstream in(s.substr(from, to - from));
    while (std::getline(in, line)) {
      if (line.find("chat template") == std::string::npos) out += line + "\n";
    }
    return out;
  };
  CHECK(section(a.out) == section(b.out));
  CHECK(a.out.find("rope_freqs.weight         [16]           F32") != std::string::npos);
}

TEST_CASE("hf_l3_tiny_tokenizer_and_greedy_text_shared") {
  const std::string dir = loam_test::shared_file("models/hf-l3-tiny");
  auto from_dir = load_dir(dir);
  auto from_gguf = loam_test::load_or_stop(loam_test::shared_file("models/l3-tiny-f16.gguf"));
  const loam::Vocab& a = from_dir->vocab;
  const loam::Vocab& b = from_gguf->vocab;
  CHECK(a.pre == "llama-bpe");
  CHECK(a.merges == b.merges);
  CHECK(a.pieces == b.pieces);
  CHECK(a.types == b.types);
  CHECK_EQ(a.add_bos, b.add_bos);
  // generation_config.json's eos list (end_of_text, eot_id) ends generation.
  loam::Tokenizer tok(a);
  CHECK(tok.is_eog(128001));
  CHECK(tok.is_eog(128009));
  const std::vector<Golden> goldens = loam_test::golden::read_goldens("l3-tiny-f16");
  REQUIRE(!goldens.empty());
  for (const Golden& g : goldens) {
    CHECK(tok.encode(g.prompt_text, g.add_bos) == g.prompt);
    // `loam run --temp 0` gives the golden continuation (run ends its output with a newline).
    const loam_cli_test::Result r = loam_cli_test::run(
        {"run", "-m", dir, "-p", g.prompt_text, "--temp", "0", "-n",
         std::to_string(g.generated.size()), "-t", "2"});
    REQUIRE(r.code == 0);
    const std::string want = loam_cli_test::slurp(loam_test::shared_dir() + "/golden/llama3/" +
                                                  g.name + ".text");
    CHECK(r.out == want || r.out == want + "\n");
  }
}
