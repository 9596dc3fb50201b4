// Hugging Face checkpoint directories written by the tests (tests/hf_fixtures.h): logits against
// the independent double-precision reference for F32, BF16, sharded, untied (lm_head) and
// llama3-rope directories; merges as strings and as pairs; `loam convert` of them; and every
// malformed input refused with one "loam: error:" line and exit status 1.
#include <string>
#include <vector>

#include "cli_runner.h"
#include "formats/hf_checkpoint.h"
#include "formats/hf_config.h"
#include "formats/hf_tokenizer.h"
#include "formats/safetensors.h"
#include "harness/test.h"
#include "hf_fixtures.h"
#include "loam/gguf.h"
#include "model/load_hf.h"
#include "reference/run_engine.h"

namespace {

using hf_fixture::Spec;

std::string fresh_dir(const std::string& name) {
  return hf_fixture::make_dir(loam_test::temp_dir() + "/" + name);
}

std::shared_ptr<const loam::Model> load_dir(const std::string& path) {
  auto model = std::make_shared<loam::Model>();
  const loam::Status st = loam::load_hf_model(path, loam::LoadOptions{}, *model);
  if (!st) {
    loam_test::record_failure(__FILE__, __LINE__, "load_hf_model: " + st.message());
    throw loam_test::StopCase{};
  }
  return model;
}

const std::vector<int32_t> kTokens = {6, 0, 3, 5, 1, 4, 2, 2, 0, 5};

// Engine logits of the directory against the reference forward pass of the stored weights.
void check_against_reference(const std::string& path, const loam_ref::RefModel& ref,
                             double max_rel_rms) {
  auto model = load_dir(path);
  REQUIRE(model->config.n_vocab == ref.c.vocab);
  const std::vector<double> want = loam_ref::reference_forward(ref, kTokens);
  const size_t V = static_cast<size_t>(ref.c.vocab);
  for (const int chunk : {0, 1}) {
    const std::vector<float> got = loam_test::engine_logits(model, kTokens, 2, chunk, 0);
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (size_t r = 0; r < kTokens.size(); ++r) {
      worst = std::max(worst, loam_test::row_stats(&got[r * V], &want[r * V], V).rel_rms);
    }
    std::fprintf(stderr, "  %s (chunk %d): worst rel RMS %.3g\n", path.c_str(), chunk, worst);
    CHECK(worst <= max_rel_rms);
  }
}

// One line "loam: error: ..." naming `needle`, exit 1, nothing on stdout.
void check_refused(const std::vector<std::string>& args, const std::string& needle) {
  const loam_cli_test::Result r = loam_cli_test::run(args);
  CHECK_EQ(r.code, 1);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("loam: error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  if (r.err.find(needle) == std::string::npos) {
    loam_test::record_failure(__FILE__, __LINE__, "expected '" + needle + "' in: " + r.err);
  }
}

}  // namespace

TEST_CASE("hf_dir_f32_matches_reference") {
  Spec s;
  s.c = hf_fixture::tiny_config(true);
  const std::string dir = fresh_dir("f32");
  const loam_ref::RefModel ref = hf_fixture::write_model_dir(dir, s);
  // 1e-3: the reference keeps everything in double; the engine's F32 path is within ~1e-6 with
  // an F32 KV cache and ~2e-4 with an F16 one. A wrong Q/K row order gives O(1) differences.
  check_against_reference(dir, ref, 1e-3);
  // A single .safetensors file beside the json files is the same checkpoint.
  check_against_reference(dir + "/model.safetensors", ref, 1e-3);
}

TEST_CASE("hf_dir_bf16_untied_llama3_rope_matches_reference") {
  Spec s;
  s.c = hf_fixture::tiny_config(false);
  s.dtype = "BF16";
  s.tied = false;
  s.llama3_rope = true;
  const std::string dir = fresh_dir("bf16");
  const loam_ref::RefModel ref = hf_fixture::write_model_dir(dir, s);
  auto model = load_dir(dir);
  CHECK(!model->config.tied_embeddings);
  CHECK(model->layers[0].wq.type == loam::DType::BF16);
  CHECK(model->output.data != model->tok_embd.data);
  // The reference applies the hand-written HF factors to the stored (rounded) BF16 weights.
  check_against_reference(dir, ref, 1e-3);
}

TEST_CASE("hf_dir_sharded_f16_matches_reference") {
  Spec s;
  s.c = hf_fixture::tiny_config(true);
  s.dtype = "F16";
  s.shards = 3;
  const std::string dir = fresh_dir("sharded");
  const loam_ref::RefModel ref = hf_fixture::write_model_dir(dir, s);
  check_against_reference(dir, ref, 1e-3);
}

TEST_CASE("hf_tokenizer_merges_as_strings_and_pairs") {
  for (const bool pairs : {false, true}) {
    loam::HfTokenizer tok;
    REQUIRE(loam::parse_hf_tokenizer_json(hf_fixture::tokenizer_json(pairs), "t.json", tok));
    CHECK((tok.merges == std::vector<std::string>{"a b", "\xC4\xA0 a"}));
    CHECK_EQ(tok.pieces.size(), size_t{8});
    CHECK(tok.pieces[5] == "\xC4\xA0" "a");
    CHECK(tok.types[0] == loam::TokenType::Normal);
    CHECK(tok.types[6] == loam::TokenType::Control);
    CHECK(tok.pre == "llama-bpe");
    CHECK(tok.add_bos);  // TemplateProcessing starts with a special token
    REQUIRE(loam::parse_hf_tokenizer_config(hf_fixture::tokenizer_config_json(), "c.json", tok));
    CHECK_EQ(tok.bos_id, 6);
    CHECK_EQ(tok.eos_id, 7);
    CHECK(tok.chat_template.find("bos_token") != std::string::npos);
  }
  // The directory's model gets the same vocabulary either way.
  Spec s;
  s.c = hf_fixture::tiny_config(true);
  s.merges_as_pairs = true;
  const std::string dir = fresh_dir("pairs");
  hf_fixture::write_model_dir(dir, s);
  auto model = load_dir(dir);
  CHECK(model->vocab.model == "gpt2");
  CHECK_EQ(model->vocab.bos_id, 6);
  CHECK_EQ(model->vocab.eos_id, 7);
  bool saw_merges = false;
  for (const loam::MetadataEntry& e : model->metadata) {
    if (e.key == "tokenizer.ggml.merges") saw_merges = e.value.find("a b") != std::string::npos;
  }
  CHECK(saw_merges);
}

TEST_CASE("hf_tokenizer_added_token_not_special_is_user_defined") {
  std::string json = hf_fixture::tokenizer_json(false);
  const std::string from = "\"content\":\"<|end_of_text|>\",\"special\":true";
  json.replace(json.find(from), from.size(), "\"content\":\"<|end_of_text|>\",\"special\":false");
  loam::HfTokenizer tok;
  REQUIRE(loam::parse_hf_tokenizer_json(json, "t.json", tok));
  CHECK(tok.types[7] == loam::TokenType::UserDefined);
}

TEST_CASE("hf_llama3_rope_factors_by_hand") {
  // base 500000, head_dim 32, Llama 3.1's factor 8, low 1, high 4, original 8192: the
  // wavelength 2*pi*500000^(i/32) crosses 2048 between pairs 7 and 8... by hand:
  // pair 0: wavelength 6.28 < 2048 -> 1; pair 15: 2*pi*500000^(30/32) ~ 1.4e6 > 8192 -> 8.
  const std::vector<float> f = loam::llama3_rope_factors(500000.0, 32, 8.0, 1.0, 4.0, 8192.0);
  REQUIRE(f.size() == size_t{16});
  CHECK_EQ(f[0], 1.0f);
  CHECK_EQ(f[15], 8.0f);
  const std::vector<double> ref = hf_fixture::llama3_factors(500000.0, 32, 8.0, 1.0, 4.0, 8192.0);
  for (size_t i = 0; i < f.size(); ++i) CHECK_NEAR(f[i], ref[i], 1e-5 * ref[i]);
  for (size_t i = 1; i < f.size(); ++i) CHECK(f[i] >= f[i - 1]);  // monotone in wavelength
}

TEST_CASE("hf_permute_rope_rows_by_hand") {
  // One head of 4 rows (HF: r0 r1 | r2 r3 = x0 x1 | y0 y1) becomes x0 y0 x1 y1.
  const uint8_t src[4] = {10, 11, 20, 21};
  uint8_t dst[4] = {};
  loam::permute_rope_rows(src, dst, 1, 4, 1);
  CHECK((dst[0] == 10 && dst[1] == 20 && dst[2] == 11 && dst[3] == 21));
}

TEST_CASE("hf_config_refusals") {
  loam::HfConfig c;
  const std::string base =
      "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":16,\"intermediate_size\":32,"
      "\"num_attention_heads\":4,\"num_hidden_layers\":1";
  REQUIRE(loam::parse_hf_config(base + "}", "config.json", c));
  CHECK_EQ(c.num_key_value_heads, 4);
  CHECK_EQ(c.head_dim, 4);
  CHECK_EQ(c.vocab_size, 32000);
  loam::Status st = loam::parse_hf_config(
      "{\"architectures\":[\"GPT2LMHeadModel\"],\"hidden_size\":16}", "config.json", c);
  CHECK(!st && st.message().find("GPT2LMHeadModel") != std::string::npos);
  st = loam::parse_hf_config(base + ",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}",
                             "config.json", c);
  CHECK(!st && st.message().find("yarn") != std::string::npos);
  st = loam::parse_hf_config(base + ",\"eos_token_id\":[1,\"x\"]}", "config.json", c);
  CHECK(!st && st.message().find("eos_token_id") != std::string::npos);
  REQUIRE(loam::parse_hf_config(base + ",\"eos_token_id\":[1,9]}", "config.json", c));
  CHECK((c.eos_token_ids == std::vector<int64_t>{1, 9}));
  REQUIRE(loam::parse_hf_generation_config("{\"temperature\":0.6,\"top_p\":0.9,"
                                           "\"eos_token_id\":[9,12]}", "g.json", c));
  CHECK(c.has_temperature && c.temperature == 0.6 && c.has_top_p && c.top_p == 0.9);
  CHECK((c.eos_token_ids == std::vector<int64_t>{1, 9, 12}));
}

TEST_CASE("hf_convert_writer_dirs_keep_logits") {
  // BF16 + untied + llama3 rope + shards: the converted file runs to the same logits.
  Spec s;
  s.c = hf_fixture::tiny_config(false);
  s.dtype = "BF16";
  s.tied = false;
  s.llama3_rope = true;
  s.shards = 2;
  const std::string dir = fresh_dir("convert_src");
  hf_fixture::write_model_dir(dir, s);
  const std::string out = loam_test::temp_dir() + "/converted.gguf";
  const loam_cli_test::Result r = loam_cli_test::run({"convert", dir, out});
  REQUIRE(r.code == 0);
  loam::GgufFile gguf;
  REQUIRE(loam::GgufFile::open(out, gguf));
  std::string pre, model;
  REQUIRE(gguf.get_string("tokenizer.ggml.pre", pre));
  REQUIRE(gguf.get_string("tokenizer.ggml.model", model));
  CHECK(pre == "llama-bpe" && model == "gpt2");
  std::vector<std::string> merges;
  REQUIRE(gguf.get_string_array("tokenizer.ggml.merges", merges));
  CHECK_EQ(merges.size(), size_t{2});
  CHECK(gguf.find_tensor("output.weight") != nullptr);
  CHECK(gguf.find_tensor("rope_freqs.weight") != nullptr);
  CHECK(gguf.find_tensor("blk.1.attn_q.weight")->type == loam::DType::BF16);
  int64_t file_type = 0;
  REQUIRE(gguf.get_int("general.file_type", file_type));
  CHECK_EQ(file_type, 32);  // LLAMA_FTYPE_MOSTLY_BF16

  auto from_dir = load_dir(dir);
  auto from_gguf = loam_test::load_or_stop(out);
  const std::vector<float> a = loam_test::engine_logits(from_dir, kTokens, 2, 0, 0);
  const std::vector<float> b = loam_test::engine_logits(from_gguf, kTokens, 2, 0, 0);
  CHECK(a == b);

  // Quantized in the same pass.
  const std::string q8 = loam_test::temp_dir() + "/converted-q8.gguf";
  REQUIRE(loam_cli_test::run({"convert", dir, q8, "Q8_0"}).code == 0);
  loam::GgufFile gq;
  REQUIRE(loam::GgufFile::open(q8, gq));
  CHECK(gq.find_tensor("blk.0.ffn_up.weight")->type == loam::DType::Q8_0);
}

TEST_CASE("hf_malformed_inputs_exit_1_with_one_line") {
  Spec s;
  s.c = hf_fixture::tiny_config(true);
  const std::string good = fresh_dir("good");
  hf_fixture::write_model_dir(good, s);
  // A copy of `good` with one file replaced.
  int n = 0;
  auto variant = [&](const std::string& file, const std::string& bytes) {
    const std::string dir = fresh_dir("bad" + std::to_string(n++));
    for (const char* f : {"config.json", "generation_config.json", "tokenizer.json",
                          "tokenizer_config.json", "model.safetensors"}) {
      hf_fixture::write_text(dir + "/" + f, loam_cli_test::slurp(good + "/" + f));
    }
    hf_fixture::write_text(dir + "/" + file, bytes);
    return dir;
  };
  std::vector<hf_fixture::StTensor> two = {
      {"model.embed_tokens.weight", "F32", {2, 2}, std::string(16, '\0')},
      {"model.norm.weight", "F32", {2}, std::string(8, '\0')}};
  auto st_bytes = [&](const std::vector<hf_fixture::StTensor>& ts, const hf_fixture::StOptions& o) {
    const std::string path = loam_test::temp_dir() + "/scratch.safetensors";
    hf_fixture::write_safetensors(path, ts, o);
    return loam_cli_test::slurp(path);
  };
  hf_fixture::StOptions past;
  past.end_shift = 4;
  check_refused({"info", variant("model.safetensors", st_bytes(two, past))}, "past the end");
  hf_fixture::StOptions overlap;
  overlap.overlap = true;
  check_refused({"info", variant("model.safetensors", st_bytes(two, overlap))}, "overlaps");
  auto bad_dtype = two;
  bad_dtype[1].dtype = "I64";
  check_refused({"info", variant("model.safetensors", st_bytes(bad_dtype, {}))},
                "model.norm.weight' has dtype I64");
  auto bad_shape = two;
  bad_shape[0].shape = {2, 3};
  check_refused({"info", variant("model.safetensors", st_bytes(bad_shape, {}))},
                "needs 24 bytes but data_offsets span 16");
  hf_fixture::StOptions not_json;
  not_json.header_override = "{\"a\":";
  check_refused({"info", variant("model.safetensors", st_bytes(two, not_json))}, "header");
  check_refused({"info", variant("model.safetensors", std::string("\xff\xff\xff\xff", 4) +
                                                          std::string(8, '\0'))},
                "header length");
  // Valid file, but tensors of the wrong shape for the config.
  check_refused({"info", variant("model.safetensors", st_bytes(two, {}))}, "shape");
  check_refused({"info", variant("config.json", "{\"architectures\": [")}, "config.json");
  check_refused({"info", variant("tokenizer.json", "{\"model\": {}")}, "tokenizer.json");
  check_refused({"info", variant("tokenizer_config.json", "[1,]")}, "tokenizer_config.json");
  check_refused({"info", variant("generation_config.json", "nope")}, "generation_config.json");
  check_refused({"run", "-m", variant("config.json",
                                      "{\"architectures\":[\"Qwen2ForCausalLM\"]}"),
                 "-p", "a", "-n", "1"},
                "Qwen2ForCausalLM");

  // A SentencePiece-only directory, and a pre-tokenizer other than Llama 3's.
  {
    const std::string spm = variant("tokenizer_config.json", hf_fixture::tokenizer_config_json());
    std::remove((spm + "/tokenizer.json").c_str());
    hf_fixture::write_text(spm + "/tokenizer.model", "spm");
    check_refused({"info", spm}, "SentencePiece");
    std::string other = hf_fixture::tokenizer_json(false);
    other.replace(other.find("(?i:"), 4, "(?x:");
    check_refused({"info", variant("tokenizer.json", other)}, "not Llama 3's");
  }
  // A shard the index names but that is missing.
  Spec sh = s;
  sh.shards = 2;
  const std::string sharded = fresh_dir("missing_shard");
  hf_fixture::write_model_dir(sharded, sh);
  std::remove((sharded + "/model-00002-of-00002.safetensors").c_str());
  check_refused({"info", sharded}, "model-00002-of-00002.safetensors', which is missing");
  check_refused({"logits", "-m", sharded, "--tokens", "1", "-o",
                 loam_test::temp_dir() + "/x.f32"},
                "missing");
  // convert refuses what is not a checkpoint.
  const loam_cli_test::Result r =
      loam_cli_test::run({"convert", loam_test::temp_dir(), loam_test::temp_dir() + "/o.gguf"});
  CHECK_EQ(r.code, 2);
}

TEST_CASE("hf_generation_config_sampling_defaults") {
  Spec s;
  s.c = hf_fixture::tiny_config(true);
  const std::string dir = fresh_dir("gencfg");
  hf_fixture::write_model_dir(dir, s);  // generation_config.json: temperature 0.6, top_p 0.9
  auto model = load_dir(dir);
  CHECK(model->sampling_defaults.has_temp && model->sampling_defaults.temp == 0.6f);
  CHECK(model->sampling_defaults.has_top_p && model->sampling_defaults.top_p == 0.9f);
  loam_cli_test::Result r =
      loam_cli_test::run({"run", "-m", dir, "-p", "ab", "-n", "2", "-s", "1"});
  REQUIRE(r.code == 0);
  CHECK(r.err.find("sampling: temp 0.6, top-p 0.9 (generation_config.json") != std::string::npos);
  // A flag wins over the file.
  r = loam_cli_test::run({"run", "-m", dir, "-p", "ab", "-n", "2", "--temp", "0"});
  REQUIRE(r.code == 0);
  CHECK(r.err.find("sampling: temp 0, top-p 0.9") != std::string::npos);
  r = loam_cli_test::run({"run", "-m", dir, "-p", "ab", "-n", "2", "--temp", "0", "--top-p", "1"});
  REQUIRE(r.code == 0);
  CHECK(r.err.find("sampling:") == std::string::npos);
}
