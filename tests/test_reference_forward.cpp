// The engine against an independent double-precision reference forward pass
// (tests/reference/llama_reference.h, no engine code) on random llama2.c checkpoints of several
// shapes and on stories260K.bin; plus determinism: 1 vs 2 threads and one eval vs token by token
// must give bit-identical logits.
//
// Tolerance: per logits row, max |engine - reference| <= 1e-4 * max(1, max |reference logit|).
// The engine computes in float (unit roundoff 6e-8); through a few layers of dot products of
// length <= 200 and a softmax, rounding accumulates to ~1e-6 relative, so 1e-4 leaves ~100x
// slack, while any real formula error (wrong RoPE pairing or frequency, wrong kv head for a query
// head, missing norm weight, off-by-one causal mask) changes logits by O(10%) or more.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/model.h"
#include "loam/session.h"
#include "reference/llama_reference.h"
#include "reference/run_engine.h"

namespace {

using loam_ref::RefConfig;
using loam_ref::RefModel;

constexpr double kRelTol = 1e-4;

struct Shape {
  const char* name;
  RefConfig c;
};

RefConfig shape(int dim, int hidden, int layers, int heads, int kv_heads, int vocab, bool shared) {
  return loam_ref::make_config(dim, hidden, layers, heads, kv_heads, vocab, shared, 32);
}

std::vector<Shape> shapes() {
  return {
      {"mha_tied", shape(32, 64, 2, 4, 4, 64, true)},
      {"mha_untied", shape(32, 80, 2, 2, 2, 50, false)},
      {"gqa8x2_untied", shape(64, 96, 2, 8, 2, 80, false)},
      {"gqa8x2_tied", shape(64, 128, 3, 8, 2, 96, true)},
      {"odd_dim48_ffn100_gqa6x3", shape(48, 100, 3, 6, 3, 77, false)},
      {"odd_dim48_ffn100_mqa4x1_tied", shape(48, 100, 2, 4, 1, 61, true)},
  };
}

std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  loam_ref::Rng rng(seed);
  std::vector<int32_t> t(n);
  for (int32_t& id : t) id = rng.below(vocab);
  return t;
}

// Compares engine rows with reference rows; records a failure per bad row (first few only) and
// returns the worst max|diff| / max(1, max|ref|) seen.
double compare_with_reference(const std::vector<float>& engine, const std::vector<double>& ref,
                              int n_rows, int n_vocab, const std::string& what) {
  double worst = 0;
  int reported = 0;
  REQUIRE(engine.size() == ref.size());
  for (int r = 0; r < n_rows; ++r) {
    const size_t off = static_cast<size_t>(r) * n_vocab;
    const loam_test::RowStats s = loam_test::row_stats(&engine[off], &ref[off], n_vocab);
    const double rel = s.max_abs / std::max(1.0, s.max_abs_ref);
    worst = std::max(worst, rel);
    if (!(rel <= kRelTol) && reported++ < 3) {
      loam_test::record_failure(__FILE__, __LINE__,
                                what + ": row " + std::to_string(r) + " max|diff| " +
                                    std::to_string(s.max_abs) + " (max|ref| " +
                                    std::to_string(s.max_abs_ref) + ")");
    }
  }
  std::fprintf(stderr, "  %-40s worst max|diff|/max(1,max|ref|) = %.3g\n", what.c_str(), worst);
  return worst;
}

// Writes a random model as llama2.c .bin and loads it with the engine.
std::shared_ptr<const loam::Model> write_and_load(const RefModel& m, const std::string& name) {
  const std::string path = loam_test::temp_dir() + "/" + name + ".bin";
  REQUIRE(loam_ref::write_llama2c(m, path));
  return loam_test::load_or_stop(path);
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b, std::string& where) {
  if (a.size() != b.size()) {
    where = "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
    return false;
  }
  size_t n_diff = 0, first = 0;
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      if (n_diff++ == 0) first = i;
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    }
  if (n_diff == 0) return true;
  where = std::to_string(n_diff) + " of " + std::to_string(a.size()) +
          " logits differ, first at index " + std::to_string(first) + ", max |diff| " +
          std::to_string(max_diff);
  return false;
}

}  // namespace

TEST_CASE("reference_forward_random_llama2c_models") {
  uint64_t seed = 1000;
  for (const Shape& s : shapes()) {
    const RefModel m = loam_ref::make_random_model(s.c, ++seed);
    auto model = write_and_load(m, s.name);
    // The loader must have read the header the way we wrote it.
    CHECK_EQ(model->config.n_embd, s.c.dim);
    CHECK_EQ(model->config.n_head, s.c.n_heads);
    CHECK_EQ(model->config.n_head_kv, s.c.n_kv_heads);
    CHECK_EQ(model->config.n_ff, s.c.hidden);
    CHECK_EQ(model->config.n_vocab, s.c.vocab);
    CHECK_EQ(model->config.tied_embeddings, s.c.shared_classifier);
    const std::vector<int32_t> tokens = random_tokens(20, s.c.vocab, seed * 7);
    const std::vector<double> ref = loam_ref::reference_forward(m, tokens);
    const std::vector<float> got = loam_test::engine_logits(model, tokens, 2, 0, s.c.seq_len);
    compare_with_reference(got, ref, 20, s.c.vocab, std::string(s.name) + " (one eval)");
    const std::vector<float> got1 = loam_test::engine_logits(model, tokens, 2, 1, s.c.seq_len);
    compare_with_reference(got1, ref, 20, s.c.vocab, std::string(s.name) + " (token by token)");
  }
}

TEST_CASE("reference_forward_long_sequence_fills_context") {
  // All 32 positions of the context, so the last rows attend over the whole cache.
  const RefConfig c = shape(48, 100, 2, 6, 2, 70, false);
  const RefModel m = loam_ref::make_random_model(c, 77);
  auto model = write_and_load(m, "full_context");
  const std::vector<int32_t> tokens = random_tokens(c.seq_len, c.vocab, 78);
  const std::vector<double> ref = loam_ref::reference_forward(m, tokens);
  const std::vector<float> got = loam_test::engine_logits(model, tokens, 2, 5, c.seq_len);
  compare_with_reference(got, ref, c.seq_len, c.vocab, "full_context (chunks of 5)");
}

TEST_CASE("reference_forward_stories260K_shared") {
  // GQA (8 heads, 4 kv heads), 5 layers, shared classifier; read with our own parser.
  const std::string path = loam_test::shared_file("models/stories260K.bin");
  RefModel m;
  REQUIRE(loam_ref::read_llama2c(path, m));
  REQUIRE(m.c.n_heads == 8 && m.c.n_kv_heads == 4 && m.c.shared_classifier);
  auto model = loam_test::load_or_stop(path);
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 294, 307, 350, 415, 300, 46, 11};
  const std::vector<double> ref = loam_ref::reference_forward(m, tokens);
  const int n = static_cast<int>(tokens.size());
  const std::vector<float> got = loam_test::engine_logits(model, tokens, 2, 0, 64);
  compare_with_reference(got, ref, n, m.c.vocab, "stories260K (one eval)");
  const std::vector<float> got1 = loam_test::engine_logits(model, tokens, 2, 1, 64);
  compare_with_reference(got1, ref, n, m.c.vocab, "stories260K (token by token)");
}

TEST_CASE("logits_bit_identical_for_1_and_2_threads") {
  const RefConfig c = shape(64, 96, 2, 8, 2, 80, false);
  auto model = write_and_load(loam_ref::make_random_model(c, 31), "threads");
  const std::vector<int32_t> tokens = random_tokens(20, c.vocab, 32);
  std::string where;
  for (int chunk : {0, 1}) {
    const std::vector<float> t1 = loam_test::engine_logits(model, tokens, 1, chunk, c.seq_len);
    const std::vector<float> t2 = loam_test::engine_logits(model, tokens, 2, chunk, c.seq_len);
    if (!bit_equal(t1, t2, where))
      loam_test::record_failure(__FILE__, __LINE__,
                                std::string(chunk ? "token by token" : "one eval") +
                                    ", 1 vs 2 threads: " + where);
  }
}

TEST_CASE("logits_bit_identical_one_eval_vs_token_by_token") {
  const RefConfig c = shape(48, 100, 2, 6, 3, 77, true);
  auto model = write_and_load(loam_ref::make_random_model(c, 41), "chunking");
  const std::vector<int32_t> tokens = random_tokens(20, c.vocab, 42);
  std::string where;
  for (int threads : {1, 2}) {
    const std::vector<float> whole = loam_test::engine_logits(model, tokens, threads, 0, c.seq_len);
    const std::vector<float> single = loam_test::engine_logits(model, tokens, threads, 1, c.seq_len);
    if (!bit_equal(whole, single, where))
      loam_test::record_failure(__FILE__, __LINE__,
                                std::to_string(threads) + " thread(s), one eval vs token by token: " +
                                    where);
  }
}

TEST_CASE("reference_itself_matches_golden_aidreams260K_shared") {
  // Checks the oracle: our reference on aidreams260K.bin against the independent golden logits
  // (same F32 weights as aidreams260K.gguf), so a bug shared by reference and engine shows here.
  const std::string bin = loam_test::shared_file("models/aidreams260K.bin");
  const std::string logits_path = loam_test::shared_file("golden/aidreams260K.p1.logits.f32");
  RefModel m;
  REQUIRE(loam_ref::read_llama2c(bin, m));
  // From golden/aidreams260K.p1.tokens.txt: the prompt and the first generated tokens.
  const std::vector<int32_t> prompt = {1, 429, 491, 433, 295, 429, 444, 445, 265, 262, 263, 342, 430};
  const std::vector<int32_t> generated = {446, 280, 432, 458, 375, 431, 422, 314};
  std::vector<int32_t> tokens = prompt;
  tokens.insert(tokens.end(), generated.begin(), generated.end() - 1);
  const std::vector<double> ref = loam_ref::reference_forward(m, tokens);
  FILE* f = std::fopen(logits_path.c_str(), "rb");
  REQUIRE(f != nullptr);
  const int V = m.c.vocab;
  std::vector<float> golden(generated.size() * V);
  const size_t got = std::fread(golden.data(), sizeof(float), golden.size(), f);
  std::fclose(f);
  REQUIRE(got == golden.size());
  double worst = 0;
  for (size_t row = 0; row < generated.size(); ++row) {
    const size_t pos = prompt.size() - 1 + row;  // golden row 0 = after the whole prompt
    const loam_test::RowStats s =
        loam_test::row_stats(&golden[row * V], &ref[pos * V], static_cast<size_t>(V));
    worst = std::max(worst, s.max_abs);
    CHECK(s.max_abs <= 1e-3);
  }
  std::fprintf(stderr, "  reference vs golden aidreams260K.p1: worst max|diff| = %.3g\n", worst);
}
