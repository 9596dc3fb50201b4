// Continuous batching for `loam batch`: up to K sequences share each forward step. Every step,
// each sequence that is generating contributes its one new token, and sequences still reading
// their prompt contribute prompt chunks that fill the rest of the step's token budget (oldest
// first). A sequence that finishes frees its slot, and the next job takes it before the next step.
//
// The scheduler only decides which tokens go into which step and samples; the forward pass is
// behind StepEngine, so the logic is tested with a fake engine (tests/test_batch_scheduler.cpp)
// and run with MultiSession in the command. Because a sequence's logits do not depend on the
// other sequences in its steps or on how its prompt is cut (see loam/multi_session.h), each
// sequence's result is the one it gets alone, whatever K and the order jobs arrive in.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "batch/batch_output.h"
#include "loam/sampler.h"
#include "loam/status.h"

namespace loam::batch {

// Tokens appended to one sequence in a step (MultiSession::Chunk's shape).
struct StepChunk {
  int seq = 0;
  const int32_t* tokens = nullptr;
  int n = 0;
};

// What the scheduler needs of a batched forward pass: MultiSession's shape, so the command wraps
// one (src/batch/multi_session_engine.h).
class StepEngine {
 public:
  virtual ~StepEngine() = default;
  virtual int sequences() const = 0;
  virtual int context_length() const = 0;
  virtual int max_tokens_per_step() const = 0;
  virtual int vocab_size() const = 0;
  virtual Status step(const std::vector<StepChunk>& chunks) = 0;
  virtual const float* logits(int chunk_index) const = 0;  // [vocab_size] f32
  virtual void reset(int seq) = 0;
};

// One line ready to run: its prompt tokenized and checked against the context.
struct SequenceJob {
  uint64_t ordinal = 0;            // output order
  std::vector<int32_t> prompt;     // non-empty, at most the context length
  int max_new = 0;                 // tokens to generate at most (>= 0)
  bool limited_by_context = false; // max_new is the room left in the context, not n_predict
  SamplerParams sampling;          // repeat_last_n resolved
  std::vector<std::string> stop;   // stop strings (non-empty)
  int32_t end_of_turn = -1;        // chat lines: the template's end-of-turn token ends it too
};

struct SequenceResult {
  uint64_t ordinal = 0;
  std::string text;                // bytes before any stop string
  int tokens_prompt = 0;
  int tokens_generated = 0;        // tokens sampled and kept (an end-of-generation token is not)
  StopReason reason = StopReason::kLength;
  double ms = 0.0;
};

struct SchedulerHooks {
  // Fills the next job; false when there are none (end of input, or a stop was requested).
  std::function<bool(SequenceJob&)> next_job;
  // A sequence is done. A failure here (say, the output cannot be written) ends the run with it.
  std::function<Status(SequenceResult&&)> on_result;
  // Polled before every step: true abandons the sequences in flight (they give no result).
  std::function<bool()> stop_requested;
  std::function<bool(int32_t)> is_end_of_generation;
  std::function<std::string(int32_t)> piece_bytes;  // a generated token's text
  std::function<void()> after_step;                 // optional: progress display
};

struct SchedulerStats {
  uint64_t steps = 0;
  uint64_t step_tokens = 0;        // tokens run through the engine (prompt + generated)
  uint64_t prompt_tokens = 0;      // of finished sequences
  uint64_t generated_tokens = 0;   // of finished sequences
  uint64_t sampled_tokens = 0;     // generated so far, sequences in flight included
  uint64_t sequences = 0;          // finished
  bool stopped = false;            // ended by stop_requested
};

// Runs jobs until next_job has no more and every admitted sequence is finished (or a stop was
// requested). Fails on an engine or on_result error, abandoning what is in flight.
Status run_scheduler(StepEngine& engine, const SchedulerHooks& hooks, SchedulerStats& stats);

// Finds the earliest stop string in `text` that ends after byte `new_from` (the text before it
// was already searched). Returns its start, or std::string::npos.
size_t find_stop(const std::string& text, size_t new_from, const std::vector<std::string>& stop);

}  // namespace loam::batch
