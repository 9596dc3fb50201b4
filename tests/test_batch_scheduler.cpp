// The continuous-batching scheduler of `loam batch` against a fake forward pass whose logits are
// a hash of the sequence's tokens so far: every sequence must get exactly what a plain
// one-sequence loop (written out here, independent of the scheduler) gives, whatever the number
// of slots and the step budget; generating sequences give one token per step; a freed slot is
// refilled before the next step; stop strings, end of generation, length and context limits, and
// a stop request.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "batch/batch_scheduler.h"
#include "harness/test.h"

using loam::Status;
using loam::batch::SchedulerHooks;
using loam::batch::SchedulerStats;
using loam::batch::SequenceJob;
using loam::batch::SequenceResult;
using loam::batch::StopReason;

namespace {

constexpr int kVocab = 24;
constexpr int32_t kEog = 0;

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Logits after `history`: pseudo-random in [0, 4), a function of the whole history only.
std::vector<float> fake_logits(const std::vector<int32_t>& history) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : history) h = mix(h ^ static_cast<uint64_t>(t));
  std::vector<float> out(kVocab);
  for (int j = 0; j < kVocab; ++j) {
    out[static_cast<size_t>(j)] = static_cast<float>(mix(h + static_cast<uint64_t>(j)) >> 40) /
                                  static_cast<float>(1 << 22);
  }
  return out;
}

std::string piece(int32_t id) {
  // Tokens 1..23 are letters; "xy" is spelled by two tokens so stop strings can span tokens.
  return std::string(1, static_cast<char>('a' + (id - 1)));
}

class FakeEngine final : public loam::batch::StepEngine {
 public:
  FakeEngine(int n_seqs, int n_ctx, int budget)
      : histories_(static_cast<size_t>(n_seqs)), n_ctx_(n_ctx), budget_(budget) {}
  int sequences() const override { return static_cast<int>(histories_.size()); }
  int context_length() const override { return n_ctx_; }
  int max_tokens_per_step() const override { return budget_; }
  int vocab_size() const override { return kVocab; }
  Status step(const std::vector<loam::batch::StepChunk>& chunks) override {
    std::vector<bool> seen(histories_.size(), false);
    int tokens = 0;
    for (const auto& c : chunks) {
      if (c.seq < 0 || c.seq >= sequences() || seen[static_cast<size_t>(c.seq)] || c.n <= 0)
        return Status::error("bad chunk");
      seen[static_cast<size_t>(c.seq)] = true;
      auto& h = histories_[static_cast<size_t>(c.seq)];
      if (static_cast<int>(h.size()) + c.n > n_ctx_) return Status::error("context overflow");
      tokens += c.n;
    }
    logits_.clear();
    for (const auto& c : chunks) {
      auto& h = histories_[static_cast<size_t>(c.seq)];
      h.insert(h.end(), c.tokens, c.tokens + c.n);
      logits_.push_back(fake_logits(h));
    }
    steps.push_back(chunks);
    step_tokens.push_back(tokens);
    return Status::ok();
  }
  const float* logits(int i) const override { return logits_[static_cast<size_t>(i)].data(); }
  void reset(int seq) override { histories_[static_cast<size_t>(seq)].clear(); }

  std::vector<std::vector<loam::batch::StepChunk>> steps;  // chunk pointers are stale later
  std::vector<int> step_tokens;

 private:
  std::vector<std::vector<int32_t>> histories_;
  std::vector<std::vector<float>> logits_;
  int n_ctx_;
  int budget_;
};

// The one-sequence loop, written without the scheduler: the expected result.
SequenceResult reference(const SequenceJob& job) {
  SequenceResult r;
  r.ordinal = job.ordinal;
  r.tokens_prompt = static_cast<int>(job.prompt.size());
  loam::Sampler sampler(job.sampling);
  std::vector<int32_t> history = job.prompt;
  for (int32_t t : history) sampler.accept(t);
  if (job.max_new == 0) {
    r.reason = job.limited_by_context ? StopReason::kContext : StopReason::kLength;
    return r;
  }
  for (;;) {
    const std::vector<float> logits = fake_logits(history);
    const int32_t id = sampler.sample(logits.data(), kVocab);
    if (id == kEog || id == job.end_of_turn) {
      r.reason = StopReason::kEos;
      return r;
    }
    sampler.accept(id);
    r.text += piece(id);
    ++r.tokens_generated;
    for (const std::string& s : job.stop) {
      const size_t pos = r.text.find(s);
      if (pos != std::string::npos) {
        r.text.resize(pos);
        r.reason = StopReason::kStop;
        return r;
      }
    }
    if (r.tokens_generated == job.max_new) {
      r.reason = job.limited_by_context ? StopReason::kContext : StopReason::kLength;
      return r;
    }
    history.push_back(id);
  }
}

std::vector<SequenceJob> make_jobs(int count, int n_ctx) {
  std::vector<SequenceJob> jobs;
  for (int i = 0; i < count; ++i) {
    SequenceJob j;
    j.ordinal = static_cast<uint64_t>(i);
    const int prompt_len = 1 + (i * 7) % 19;
    for (int k = 0; k < prompt_len; ++k) j.prompt.push_back(1 + (i * 5 + k * 3) % (kVocab - 1));
    j.sampling.temp = (i % 3 == 0) ? 0.0f : 0.9f;
    j.sampling.seed = 1000 + static_cast<uint64_t>(i);
    j.sampling.top_k = 0;
    j.sampling.min_p = 0.0f;
    j.sampling.top_p = 1.0f;
    j.max_new = (i % 5 == 4) ? 0 : 3 + (i * 11) % 17;
    if (i % 6 == 5) {  // the context is the limit
      j.max_new = std::min(j.max_new, n_ctx - prompt_len);
      j.limited_by_context = true;
    }
    if (i % 4 == 1) j.stop = {"zz", "cd", "b"};
    if (i % 7 == 3) j.end_of_turn = 5;  // a chat line: its end-of-turn token ends it too
    jobs.push_back(j);
  }
  return jobs;
}

struct RunOutcome {
  std::map<uint64_t, SequenceResult> results;
  SchedulerStats stats;
  Status status;
  std::vector<int> handed_out_at_step;  // jobs handed out before each step
};

RunOutcome run(FakeEngine& engine, const std::vector<SequenceJob>& jobs,
               int stop_after_steps = -1) {
  RunOutcome out;
  size_t next = 0;
  SchedulerHooks hooks;
  hooks.next_job = [&](SequenceJob& j) {
    if (next == jobs.size()) return false;
    j = jobs[next++];
    return true;
  };
  hooks.on_result = [&](SequenceResult&& r) {
    const uint64_t ordinal = r.ordinal;
    CHECK(out.results.count(ordinal) == 0);
    out.results[ordinal] = std::move(r);
    return Status::ok();
  };
  hooks.stop_requested = [&] {
    out.handed_out_at_step.push_back(static_cast<int>(next));
    return stop_after_steps >= 0 && static_cast<int>(engine.steps.size()) >= stop_after_steps;
  };
  hooks.is_end_of_generation = [](int32_t id) { return id == kEog; };
  hooks.piece_bytes = piece;
  out.status = loam::batch::run_scheduler(engine, hooks, out.stats);
  return out;
}

void check_same(const SequenceResult& a, const SequenceResult& b) {
  CHECK_EQ(a.ordinal, b.ordinal);
  CHECK_EQ(a.text, b.text);
  CHECK_EQ(a.tokens_prompt, b.tokens_prompt);
  CHECK_EQ(a.tokens_generated, b.tokens_generated);
  CHECK_EQ(static_cast<int>(a.reason), static_cast<int>(b.reason));
}

}  // namespace

TEST_CASE("every sequence gets its one-sequence result whatever the slots and the step budget") {
  const int n_ctx = 40;
  const std::vector<SequenceJob> jobs = make_jobs(37, n_ctx);
  // The reference covers every stop reason, so the comparison below exercises each.
  std::map<int, int> reasons;
  for (const SequenceJob& j : jobs) ++reasons[static_cast<int>(reference(j).reason)];
  CHECK(reasons[static_cast<int>(StopReason::kEos)] > 0);
  CHECK(reasons[static_cast<int>(StopReason::kLength)] > 0);
  CHECK(reasons[static_cast<int>(StopReason::kStop)] > 0);
  CHECK(reasons[static_cast<int>(StopReason::kContext)] > 0);

  const int configs[][2] = {{1, 512}, {1, 3}, {2, 1}, {3, 5}, {4, 2}, {8, 64}, {8, 7}};
  for (const auto& c : configs) {
    FakeEngine engine(c[0], n_ctx, c[1]);
    const RunOutcome out = run(engine, jobs);
    REQUIRE(out.status.is_ok());
    CHECK(!out.stats.stopped);
    REQUIRE(out.results.size() == jobs.size());
    for (const SequenceJob& j : jobs) check_same(out.results.at(j.ordinal), reference(j));
    CHECK_EQ(out.stats.sequences, jobs.size());
    CHECK_EQ(out.stats.sampled_tokens, out.stats.generated_tokens);
  }
}

TEST_CASE("steps stay within the token budget and prompts fill what generation leaves") {
  const int n_ctx = 64, budget = 6;
  const std::vector<SequenceJob> jobs = make_jobs(20, n_ctx);
  FakeEngine engine(3, n_ctx, budget);
  const RunOutcome out = run(engine, jobs);
  REQUIRE(out.status.is_ok());
  // Prompts of up to 19 tokens cut into chunks: some step must be filled exactly to the budget,
  // and none goes over it (3 slots never generate more than 6 tokens).
  bool some_full = false;
  for (size_t s = 0; s < engine.steps.size(); ++s) {
    CHECK(engine.step_tokens[s] <= budget);
    some_full = some_full || engine.step_tokens[s] == budget;
  }
  CHECK(some_full);
  // Each step holds at most one chunk per sequence (the fake engine refuses repeats).
  for (const SequenceJob& j : jobs) check_same(out.results.at(j.ordinal), reference(j));
}

TEST_CASE("a finished sequence's slot is taken by the next job before the next step") {
  const int n_ctx = 64;
  std::vector<SequenceJob> jobs = make_jobs(30, n_ctx);
  for (SequenceJob& j : jobs) j.max_new = std::max(j.max_new, 1);
  const int slots = 3;
  FakeEngine engine(slots, n_ctx, 512);
  const RunOutcome out = run(engine, jobs);
  REQUIRE(out.status.is_ok());
  // While jobs remain to be handed out, every slot holds a sequence in every step.
  size_t full_steps = 0;
  for (size_t s = 0; s < engine.steps.size(); ++s) {
    if (out.handed_out_at_step[s + 1] < static_cast<int>(jobs.size())) {
      CHECK_EQ(engine.steps[s].size(), static_cast<size_t>(slots));
      ++full_steps;
    }
  }
  CHECK(full_steps > 5);
}

TEST_CASE("nothing to generate gives a result without running the prompt") {
  FakeEngine engine(2, 16, 8);
  SequenceJob j;
  j.prompt = {3, 4, 5};
  j.max_new = 0;
  j.limited_by_context = false;
  const RunOutcome out = run(engine, {j});
  REQUIRE(out.status.is_ok());
  REQUIRE(out.results.size() == 1u);
  CHECK_EQ(out.results.at(0).tokens_generated, 0);
  CHECK_EQ(static_cast<int>(out.results.at(0).reason), static_cast<int>(StopReason::kLength));
  CHECK(engine.steps.empty());
}

TEST_CASE("a stop request abandons the sequences in flight") {
  const int n_ctx = 64;
  const std::vector<SequenceJob> jobs = make_jobs(12, n_ctx);
  FakeEngine engine(3, n_ctx, 512);
  const RunOutcome out = run(engine, jobs, 4);
  REQUIRE(out.status.is_ok());
  CHECK(out.stats.stopped);
  CHECK_EQ(engine.steps.size(), 4u);
  CHECK(out.results.size() < jobs.size());
  // What did finish is exactly the one-sequence result.
  for (const auto& kv : out.results) check_same(kv.second, reference(jobs[kv.first]));
}

TEST_CASE("an engine failure ends the run with its message") {
  FakeEngine engine(2, 8, 8);
  SequenceJob j;
  j.prompt = {1, 2, 3};
  j.max_new = 10;  // more than the context holds: the fake engine refuses the overflow
  j.sampling.temp = 0.0f;
  const RunOutcome out = run(engine, {j});
  CHECK(!out.status.is_ok());
  CHECK_EQ(out.status.message(), std::string("context overflow"));
}

TEST_CASE("find_stop: the earliest stop string ending in the new bytes") {
  using loam::batch::find_stop;
  const size_t npos = std::string::npos;
  CHECK_EQ(find_stop("hello world", 8, {"world"}), 6u);    // spans the old/new boundary
  CHECK_EQ(find_stop("hello world", 11, {"world"}), npos); // nothing new: already searched
  CHECK_EQ(find_stop("abcabc", 5, {"bc", "ca"}), 4u);      // only "bc" at 4 ends in the new byte
  CHECK_EQ(find_stop("xxABCD", 3, {"CD", "AB"}), 2u);      // earliest start wins
  CHECK_EQ(find_stop("ab", 0, {"abc"}), npos);
  CHECK_EQ(find_stop("a\n\nb", 2, {"\n\n"}), 1u);
  CHECK_EQ(find_stop("a\n\nb", 3, {"\n\n"}), npos);  // ended before the new byte
}
