// One llama-bench style test and its timing on a Session: prompt processing (pp: n_prompt tokens
// in one call), text generation (tg: n_gen tokens one at a time), or both (pg), at a context
// already filled to n_depth tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loam/session.h"
#include "loam/status.h"

namespace loam::bench {

struct BenchTest {
  int n_prompt = 0;
  int n_gen = 0;
  int n_depth = 0;

  int tokens() const { return n_prompt + n_gen; }
  // Context positions the test needs: the depth, then its own tokens.
  int context_needed() const { return n_depth + n_prompt + n_gen; }
  // llama-bench's names: "pp512", "tg128", "pp512+tg128", with " @ d2048" at a depth.
  std::string name() const;
  // The name without the depth: what a chart's series has in common across depths.
  std::string kind() const;
};

// Runs tests on one Session, filling the context to each test's depth with deterministic
// pseudo-random tokens. The filled positions are kept between tests and repetitions (the cache
// of those tokens does not change), so a depth is filled once, not before every repetition as
// llama-bench does.
class BenchRunner {
 public:
  explicit BenchRunner(Session& session);

  // One timed run of `test` (the depth fill is not timed): nanoseconds for its tokens.
  Status run_once(const BenchTest& test, uint64_t& ns);

 private:
  Status fill_to(int depth);
  int32_t token_at(uint64_t i) const;  // the deterministic token stream

  Session& session_;
  int filled_ = 0;        // positions [0, filled_) hold the depth filler tokens
  uint64_t next_token_ = 0;
};

// Mean and sample standard deviation (Bessel's correction, as llama-bench), 0 for one sample.
double mean(const std::vector<double>& v);
double stddev(const std::vector<double>& v);

}  // namespace loam::bench
