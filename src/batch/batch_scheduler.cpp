#include "batch/batch_scheduler.h"

#include <algorithm>
#include <chrono>
#include <memory>

namespace loam::batch {

namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  bool active = false;
  SequenceJob job;
  uint64_t admitted = 0;        // admission order: prompts are prefilled oldest first
  int fed = 0;                  // prompt tokens already run
  bool decoding = false;        // the prompt is done; `pending` is the token to run next
  int32_t pending = 0;          // the chunk of a decode step points here
  std::unique_ptr<Sampler> sampler;
  std::string text;
  int generated = 0;
  Clock::time_point start;
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

size_t find_stop(const std::string& text, size_t new_from, const std::vector<std::string>& stop) {
  size_t best = std::string::npos;
  for (const std::string& s : stop) {
    if (s.empty()) continue;
    // A match ending after new_from starts at or after new_from - (len - 1).
    const size_t from = new_from >= s.size() - 1 ? new_from - (s.size() - 1) : 0;
    const size_t pos = text.find(s, from);
    if (pos < best) best = pos;
  }
  return best;
}

Status run_scheduler(StepEngine& engine, const SchedulerHooks& hooks, SchedulerStats& stats) {
  stats = SchedulerStats{};
  const int n_slots = engine.sequences();
  const int n_vocab = engine.vocab_size();
  const int step_budget = std::max(engine.max_tokens_per_step(), 1);
  std::vector<Slot> slots(static_cast<size_t>(n_slots));
  bool input_done = false;
  uint64_t admissions = 0;

  auto finish = [&](int seq, Slot* slot, const SequenceJob& job, std::string text, int generated,
                    StopReason reason, double ms) -> Status {
    SequenceResult r;
    r.ordinal = job.ordinal;
    r.text = std::move(text);
    r.tokens_prompt = static_cast<int>(job.prompt.size());
    r.tokens_generated = generated;
    r.reason = reason;
    r.ms = ms;
    stats.prompt_tokens += job.prompt.size();
    stats.generated_tokens += static_cast<uint64_t>(generated);
    ++stats.sequences;
    if (slot != nullptr) {
      slot->active = false;
      slot->sampler.reset();
      engine.reset(seq);
    }
    return hooks.on_result(std::move(r));
  };

  std::vector<StepChunk> chunks;
  std::vector<int> prefill_order;
  for (;;) {
    if (hooks.stop_requested && hooks.stop_requested()) {
      stats.stopped = true;
      return Status::ok();
    }
    // Refill every free slot before the step, so a finished sequence's place is taken at once.
    for (int s = 0; s < n_slots && !input_done; ++s) {
      Slot& slot = slots[static_cast<size_t>(s)];
      while (!slot.active && !input_done) {
        SequenceJob job;
        if (!hooks.next_job(job)) {
          input_done = true;
          break;
        }
        if (job.max_new <= 0) {
          // Nothing to generate: no need to run the prompt at all.
          LOAM_TRY(finish(s, nullptr, job, "", 0,
                          job.limited_by_context ? StopReason::kContext : StopReason::kLength,
                          0.0));
          continue;
        }
        slot.active = true;
        slot.job = std::move(job);
        slot.admitted = admissions++;
        slot.fed = 0;
        slot.decoding = false;
        slot.text.clear();
        slot.generated = 0;
        slot.sampler = std::make_unique<Sampler>(slot.job.sampling);
        for (int32_t id : slot.job.prompt) slot.sampler->accept(id);
        slot.start = Clock::now();
        engine.reset(s);
      }
    }

    // This step's chunks: one token per generating sequence, then prompt chunks in the rest of
    // the budget, oldest prompt first (so a prompt is not starved by younger ones).
    chunks.clear();
    prefill_order.clear();
    for (int s = 0; s < n_slots; ++s) {
      Slot& slot = slots[static_cast<size_t>(s)];
      if (!slot.active) continue;
      if (slot.decoding) {
        chunks.push_back({s, &slot.pending, 1});
      } else {
        prefill_order.push_back(s);
      }
    }
    if (chunks.empty() && prefill_order.empty()) return Status::ok();  // all done
    std::sort(prefill_order.begin(), prefill_order.end(), [&](int a, int b) {
      return slots[static_cast<size_t>(a)].admitted < slots[static_cast<size_t>(b)].admitted;
    });
    // At least one prompt token per step even when the generating sequences fill the budget.
    int room = std::max(step_budget - static_cast<int>(chunks.size()), 1);
    for (int s : prefill_order) {
      if (room <= 0) break;
      Slot& slot = slots[static_cast<size_t>(s)];
      const int left = static_cast<int>(slot.job.prompt.size()) - slot.fed;
      const int n = std::min(left, room);
      chunks.push_back({s, slot.job.prompt.data() + slot.fed, n});
      room -= n;
    }

    LOAM_TRY(engine.step(chunks));
    ++stats.steps;

    for (size_t i = 0; i < chunks.size(); ++i) {
      const int s = chunks[i].seq;
      Slot& slot = slots[static_cast<size_t>(s)];
      stats.step_tokens += static_cast<uint64_t>(chunks[i].n);
      if (!slot.decoding) {
        slot.fed += chunks[i].n;
        if (slot.fed < static_cast<int>(slot.job.prompt.size())) continue;  // more prompt to go
        slot.decoding = true;
      }
      const int32_t id = slot.sampler->sample(engine.logits(static_cast<int>(i)), n_vocab);
      if (hooks.is_end_of_generation(id) || id == slot.job.end_of_turn) {
        LOAM_TRY(finish(s, &slot, slot.job, std::move(slot.text), slot.generated,
                        StopReason::kEos, ms_since(slot.start)));
        continue;
      }
      slot.sampler->accept(id);
      const size_t old_size = slot.text.size();
      slot.text += hooks.piece_bytes(id);
      ++slot.generated;
      ++stats.sampled_tokens;
      if (!slot.job.stop.empty()) {
        const size_t pos = find_stop(slot.text, old_size, slot.job.stop);
        if (pos != std::string::npos) {
          slot.text.resize(pos);
          LOAM_TRY(finish(s, &slot, slot.job, std::move(slot.text), slot.generated,
                          StopReason::kStop, ms_since(slot.start)));
          continue;
        }
      }
      if (slot.generated >= slot.job.max_new) {
        LOAM_TRY(finish(s, &slot, slot.job, std::move(slot.text), slot.generated,
                        slot.job.limited_by_context ? StopReason::kContext : StopReason::kLength,
                        ms_since(slot.start)));
        continue;
      }
      slot.pending = id;
    }
    if (hooks.after_step) hooks.after_step();
  }
}

}  // namespace loam::batch
