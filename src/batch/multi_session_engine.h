// A MultiSession as the scheduler's StepEngine (kept apart so the scheduler and its tests do not
// depend on the engine).
#pragma once

#include <vector>

#include "batch/batch_scheduler.h"
#include "loam/multi_session.h"

namespace loam::batch {

class MultiSessionEngine final : public StepEngine {
 public:
  explicit MultiSessionEngine(MultiSession& session) : session_(session) {}
  int sequences() const override { return session_.sequences(); }
  int context_length() const override { return session_.context_length(); }
  int max_tokens_per_step() const override { return session_.max_tokens_per_step(); }
  int vocab_size() const override { return session_.model().config.n_vocab; }
  Status step(const std::vector<StepChunk>& chunks) override {
    chunks_.clear();
    for (const StepChunk& c : chunks) chunks_.push_back({c.seq, c.tokens, c.n});
    return session_.step(chunks_);
  }
  const float* logits(int chunk_index) const override { return session_.logits(chunk_index); }
  void reset(int seq) override { session_.reset(seq); }

 private:
  MultiSession& session_;
  std::vector<MultiSession::Chunk> chunks_;  // scratch, reused every step
};

}  // namespace loam::batch
