// MultiSession against Session: sequences that share forward steps — prompts split into chunks
// that straddle the step size, decode tokens of one sequence next to prompt chunks of another —
// must give each sequence the logits it gets alone, bit for bit, for every weight type of the
// shared synthetic files (run per kernel set by CI's LOAM_ISA reruns) and for 1 and 2 threads.
// Reads ../shared/models.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/model.h"
#include "loam/multi_session.h"
#include "loam/session.h"
#include "reference/run_engine.h"

using namespace loam;

namespace {

constexpr int kCtx = 160;

std::unique_ptr<MultiSession> multi_or_stop(std::shared_ptr<const Model> model, int n_seqs,
                                            int n_threads) {
  SessionOptions opts;
  opts.n_ctx = kCtx;
  opts.n_threads = n_threads;
  // As the sessions alone (reference/run_engine.h): the bits compared are those of an f32 cache.
  opts.cache_type_k = opts.cache_type_v = DType::F32;
  std::unique_ptr<MultiSession> out;
  const Status st = MultiSession::create(std::move(model), opts, n_seqs, out);
  if (!st) {
    ::loam_test::record_failure(__FILE__, __LINE__, "MultiSession::create: " + st.message());
    throw ::loam_test::StopCase{};
  }
  return out;
}

// A sequence: its prompt, then tokens fed one at a time (teacher-forced decode).
struct Script {
  std::vector<int32_t> prompt;
  std::vector<int32_t> decode;
};

std::vector<Script> make_scripts(int n_vocab) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> id(0, n_vocab - 1);
  const int prompt_len[3] = {37, 100, 5};  // 100 > the 96-token step: a chunk straddles two
  const int decode_len[3] = {9, 4, 12};
  std::vector<Script> out(3);
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < prompt_len[s]; ++i) out[s].prompt.push_back(id(rng));
    for (int i = 0; i < decode_len[s]; ++i) out[s].decode.push_back(id(rng));
  }
  return out;
}

// Alone: the logits after the prompt, then after each decode token.
std::vector<std::vector<float>> alone(std::shared_ptr<const Model> model, const Script& s,
                                      int n_threads) {
  auto session = ::loam_test::session_or_stop(model, n_threads, kCtx);
  const int n_vocab = model->config.n_vocab;
  std::vector<std::vector<float>> rows;
  CHECK(session->eval(s.prompt));
  rows.emplace_back(session->logits(), session->logits() + n_vocab);
  for (int32_t t : s.decode) {
    CHECK(session->eval(&t, 1));
    rows.emplace_back(session->logits(), session->logits() + n_vocab);
  }
  return rows;
}

// Together: sequence 0's prompt in chunks of 16, sequence 1's whole, sequence 2 starting two steps
// late; each sequence decodes as soon as its prompt is in, beside the others' prompt chunks.
std::vector<std::vector<std::vector<float>>> together(std::shared_ptr<const Model> model,
                                                      const std::vector<Script>& scripts,
                                                      int n_threads) {
  auto multi = multi_or_stop(model, 3, n_threads);
  const int n_vocab = model->config.n_vocab;
  const int chunk_len[3] = {16, 1000, 2};
  const int start_step[3] = {0, 0, 2};
  std::vector<size_t> prompt_done(3, 0), decode_done(3, 0);
  std::vector<bool> prompt_logged(3, false);
  std::vector<std::vector<std::vector<float>>> rows(3);
  for (int step = 0; step < 200; ++step) {
    std::vector<MultiSession::Chunk> chunks;
    std::vector<int> kind;  // 0 prompt chunk finishing the prompt, 1 prompt chunk, 2 decode
    for (int s = 0; s < 3; ++s) {
      if (step < start_step[s]) continue;
      const Script& sc = scripts[s];
      if (prompt_done[s] < sc.prompt.size()) {
        const size_t n = std::min<size_t>(chunk_len[s], sc.prompt.size() - prompt_done[s]);
        chunks.push_back({s, sc.prompt.data() + prompt_done[s], static_cast<int>(n)});
        prompt_done[s] += n;
        kind.push_back(prompt_done[s] == sc.prompt.size() ? 0 : 1);
      } else if (decode_done[s] < sc.decode.size()) {
        chunks.push_back({s, &sc.decode[decode_done[s]], 1});
        ++decode_done[s];
        kind.push_back(2);
      }
    }
    if (chunks.empty()) break;
    const Status st = multi->step(chunks);
    CHECK(st);
    if (!st) throw ::loam_test::StopCase{};
    for (size_t i = 0; i < chunks.size(); ++i)
      if (kind[i] != 1) rows[chunks[i].seq].emplace_back(multi->logits(static_cast<int>(i)),
                                                         multi->logits(static_cast<int>(i)) + n_vocab);
  }
  for (int s = 0; s < 3; ++s)
    CHECK_EQ(multi->position(s),
             static_cast<int>(scripts[s].prompt.size() + scripts[s].decode.size()));
  return rows;
}

void check_model(const std::string& relative) {
  const std::string path = ::loam_test::shared_file(relative);
  auto model = ::loam_test::load_or_stop(path);
  const auto scripts = make_scripts(model->config.n_vocab);
  for (int threads : {1, 2}) {
    const auto multi_rows = together(model, scripts, threads);
    for (int s = 0; s < 3; ++s) {
      const auto single = alone(model, scripts[s], threads);
      CHECK_EQ(multi_rows[s].size(), single.size());
      if (multi_rows[s].size() != single.size()) continue;
      for (size_t r = 0; r < single.size(); ++r) {
        const bool same = std::memcmp(single[r].data(), multi_rows[s][r].data(),
                                      single[r].size() * sizeof(float)) == 0;
        if (!same)
          ::loam_test::record_failure(__FILE__, __LINE__,
                                      relative + ": sequence " + std::to_string(s) + " row " +
                                          std::to_string(r) + " differs from the sequence alone (" +
                                          std::to_string(threads) + " threads)");
      }
    }
  }
}

}  // namespace

TEST_CASE("shared steps give each sequence its logits alone: F32") { check_model("models/synth/synth-tiny-f32.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: F16") { check_model("models/synth/synth-tiny-F16.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: BF16") { check_model("models/synth/synth-tiny-BF16.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: Q8_0") { check_model("models/synth/synth-tiny-Q8_0.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: Q4_0") { check_model("models/synth/synth-tiny-Q4_0.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: Q4_K_M") { check_model("models/synth/synth-tiny-Q4_K_M.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: Q5_K_M") { check_model("models/synth/synth-tiny-Q5_K_M.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: Q6_K") { check_model("models/synth/synth-tiny-Q6_K.gguf"); }
TEST_CASE("shared steps give each sequence its logits alone: GQA llama2.c") { check_model("models/stories260K.bin"); }

TEST_CASE("a bad step is refused and changes nothing") {
  auto model = ::loam_test::load_or_stop(::loam_test::shared_file("models/synth/synth-tiny-Q4_0.gguf"));
  auto multi = multi_or_stop(model, 2, 1);
  const int32_t ok[3] = {1, 2, 3};
  CHECK(multi->step({{0, ok, 3}}));
  const int32_t bad_id[2] = {4, model->config.n_vocab};
  const std::vector<int32_t> too_long(kCtx - 2, 5);
  const struct {
    std::vector<MultiSession::Chunk> chunks;
    const char* needle;
  } cases[] = {
      {{{2, ok, 1}}, "sequence 2 does not exist"},
      {{{-1, ok, 1}}, "sequence -1 does not exist"},
      {{{1, ok, 1}, {1, ok, 2}}, "appears twice"},
      {{{1, ok, 0}}, "no tokens"},
      {{{1, ok, 1}, {0, bad_id, 2}}, "outside the vocabulary"},
      {{{1, ok, 1}, {0, too_long.data(), static_cast<int>(too_long.size())}}, "do not fit in the context"},
      {{}, "no chunks"},
  };
  for (const auto& c : cases) {
    const Status st = multi->step(c.chunks);
    CHECK(!st);
    CHECK(st.message().find(c.needle) != std::string::npos);
    CHECK_EQ(multi->position(0), 3);
    CHECK_EQ(multi->position(1), 0);
  }
  multi->reset(0);
  CHECK_EQ(multi->position(0), 0);
  std::unique_ptr<MultiSession> none;
  SessionOptions opts;
  CHECK(!MultiSession::create(model, opts, 0, none));
}

TEST_CASE("memory_bytes grows by one KV cache and one logits row per sequence") {
  auto model = ::loam_test::load_or_stop(::loam_test::shared_file("models/synth/synth-tiny-Q4_0.gguf"));
  const ModelConfig& c = model->config;
  // Per sequence: K and V caches of n_layer x n_ctx x kv_dim floats, and one logits row.
  const uint64_t per_seq = 2ull * 4 * c.n_layer * 512 * (c.n_head_kv * c.head_dim) + 4ull * c.n_vocab;
  CHECK_EQ(MultiSession::memory_bytes(c, 512, 2, 5, DType::F32, DType::F32) -
               MultiSession::memory_bytes(c, 512, 2, 4, DType::F32, DType::F32),
           per_seq);
  // The default cache type (f16) halves the cache part.
  const uint64_t per_seq_f16 = 2ull * 2 * c.n_layer * 512 * (c.n_head_kv * c.head_dim) + 4ull * c.n_vocab;
  CHECK_EQ(MultiSession::memory_bytes(c, 512, 2, 5) - MultiSession::memory_bytes(c, 512, 2, 4), per_seq_f16);
  CHECK_EQ(MultiSession::memory_bytes(c, 512, 2, 1), Session::memory_bytes(c, 512, 2));
  CHECK_EQ(MultiSession::memory_bytes(c, 1 << 30, 2, 1 << 30), UINT64_MAX);
}
