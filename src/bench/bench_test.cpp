#include "bench/bench_test.h"

#include <chrono>
#include <cmath>

#include "loam/sampler.h"

namespace loam::bench {

std::string BenchTest::kind() const {
  if (n_prompt > 0 && n_gen > 0) return "pp" + std::to_string(n_prompt) + "+tg" + std::to_string(n_gen);
  if (n_prompt > 0) return "pp" + std::to_string(n_prompt);
  return "tg" + std::to_string(n_gen);
}

std::string BenchTest::name() const {
  return n_depth > 0 ? kind() + " @ d" + std::to_string(n_depth) : kind();
}

BenchRunner::BenchRunner(Session& session) : session_(session) {}

int32_t BenchRunner::token_at(uint64_t i) const {
  // One step of the sampler's generator: ids spread over the whole vocabulary, as llama-bench's
  // random tokens are (the embedding rows read are then typical of real text).
  const uint64_t z = Rng(i).next_u64();
  return static_cast<int32_t>(z % static_cast<uint64_t>(session_.model().config.n_vocab));
}

Status BenchRunner::fill_to(int depth) {
  if (filled_ > session_.position()) filled_ = session_.position();
  if (filled_ >= depth) {
    session_.truncate(depth);
    return Status::ok();
  }
  session_.truncate(filled_);
  std::vector<int32_t> tokens;
  tokens.reserve(static_cast<size_t>(depth - filled_));
  for (int i = filled_; i < depth; ++i) tokens.push_back(token_at(static_cast<uint64_t>(i)));
  LOAM_TRY(session_.eval(tokens));
  filled_ = depth;
  return Status::ok();
}

Status BenchRunner::run_once(const BenchTest& test, uint64_t& ns) {
  if (test.context_needed() > session_.context_length()) {
    return Status::error("test " + test.name() + " needs " + std::to_string(test.context_needed()) +
                         " context positions, the session has " +
                         std::to_string(session_.context_length()));
  }
  LOAM_TRY(fill_to(test.n_depth));
  // The test's own tokens continue a different stream than the filler, so every repetition
  // processes new ids (no id pattern the branch predictors could learn across repetitions).
  std::vector<int32_t> prompt;
  prompt.reserve(static_cast<size_t>(test.n_prompt));
  for (int i = 0; i < test.n_prompt; ++i) prompt.push_back(token_at((1ull << 40) + next_token_++));
  const auto t0 = std::chrono::steady_clock::now();
  if (!prompt.empty()) LOAM_TRY(session_.eval(prompt));
  for (int i = 0; i < test.n_gen; ++i) {
    const int32_t token = token_at((1ull << 40) + next_token_++);
    LOAM_TRY(session_.eval(&token, 1));
  }
  const auto t1 = std::chrono::steady_clock::now();
  // Positions past the depth now hold this test's tokens.
  if (filled_ > test.n_depth) filled_ = test.n_depth;
  ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  return Status::ok();
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace loam::bench
