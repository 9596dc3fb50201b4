// Token sampling: repetition penalty -> top-k -> top-p -> min-p -> temperature -> softmax -> draw,
// the order of llama.cpp's default chain, so its flags mean the same here. Each step is a free
// function over a candidate list (testable on its own); Sampler strings them together and keeps
// the history the penalty needs. The random generator is defined here (splitmix64), so a seed
// gives the same draws on every platform and standard library.
#pragma once

#include <cstdint>
#include <vector>

#include "loam/status.h"

namespace loam {

struct SamplerParams {
  float temp = 0.8f;            // <= 0: greedy (argmax, lowest id wins ties)
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;       // tokens of history the penalty looks at; 0: off
  uint64_t seed = 0;
};

// Checks ranges (temp finite; top_p, min_p in [0, 1]; repeat_penalty > 0; repeat_last_n >= 0);
// the message names the field.
Status validate_sampler_params(const SamplerParams& params);

// The generator: splitmix64 (Steele, Lea, Flood 2014). Chosen because its output is fully
// specified by a few integer operations, unlike std:: distributions whose results differ between
// standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double next_double();

 private:
  uint64_t state_;
};

struct Candidate {
  int32_t id;
  float logit;
  float p;  // probability; valid after softmax() (and after top_p(), which computes it)
};

// A list of candidate tokens. `sorted` is true when items are in descending logit order with
// ties broken by ascending id (the order every step that sorts produces).
struct Candidates {
  std::vector<Candidate> items;
  bool sorted = false;

  // All ids 0..n_vocab-1 with their logits, p = 0, unsorted.
  void assign(const float* logits, int n_vocab);
  size_t size() const { return items.size(); }
};

// --- the steps (each a no-op when its parameter says "off") ------------------------------------

// llama.cpp-style repetition penalty: every distinct id in `history` gets its logit divided by
// `penalty` when positive, multiplied when negative or zero (once, however often it occurs).
void apply_repetition_penalty(Candidates& c, const int32_t* history, int n_history,
                              float penalty);
// Keeps the k highest logits (sorting the list). k <= 0 or k >= size: only sorts.
void apply_top_k(Candidates& c, int k);
// Keeps the smallest prefix (by descending probability under softmax of the current logits) whose
// cumulative probability reaches p; always at least one token. p >= 1: no-op.
void apply_top_p(Candidates& c, float p);
// Keeps tokens whose probability is at least p times the highest one, i.e. logit >= max +
// log(p); always at least one token. p <= 0: no-op.
void apply_min_p(Candidates& c, float p);
// Divides every logit by temp (temp > 0).
void apply_temperature(Candidates& c, float temp);
// Sorts and sets p = exp(logit - max) / sum, computed in double for the sum.
void apply_softmax(Candidates& c);
// Draws one id from the probabilities (requires softmax()); u is uniform in [0, 1): the first
// candidate whose cumulative probability exceeds u * total.
int32_t draw_token(const Candidates& c, double u);

// Index of the largest logit; the lowest index wins ties (NaN never wins).
int32_t argmax(const float* logits, int n);

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);

  // Picks the next token from logits [n_vocab]. Does not record it: call accept().
  int32_t sample(const float* logits, int n_vocab);
  // Records a token of the sequence (prompt tokens too) for the repetition penalty.
  void accept(int32_t id);
  void reset();  // clears history and restarts the generator from the seed

  const SamplerParams& params() const { return params_; }

 private:
  SamplerParams params_;
  Rng rng_;
  std::vector<int32_t> history_;  // [repeat_last_n] ring buffer of the latest tokens
  size_t history_next_ = 0;       // ring position of the next write
  size_t history_count_ = 0;      // valid entries (<= history_.size())
  Candidates candidates_;         // scratch, reused between calls
  std::vector<int32_t> recent_;   // scratch: history in order, for the penalty
};

}  // namespace loam
