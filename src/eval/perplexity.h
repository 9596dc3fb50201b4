// Perplexity and KL-divergence statistics, computed the way llama.cpp's llama-perplexity does:
// the text's tokens are cut into non-overlapping windows of n_ctx tokens, the first token of each
// window is replaced by BOS (when the vocabulary adds one), and each window is scored on its
// second half only (positions n_ctx/2 .. n_ctx-2 predict the next token), so every scored token
// has at least n_ctx/2 tokens of context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loam/status.h"

namespace loam::eval {

// How the tokens are cut into windows.
struct WindowPlan {
  int n_ctx = 0;    // tokens per window
  int n_chunk = 0;  // windows scored: floor(n_tokens / n_ctx), at most the limit asked for
  int first = 0;    // first position whose logits are scored: n_ctx / 2
  // Tokens scored per window: positions first .. n_ctx-2 each predict the token after them.
  int scored_per_chunk() const { return n_ctx - 1 - first; }
};

// Fails (message for the user) when n_ctx < 4 or the text has fewer than 2 * n_ctx tokens, as
// llama-perplexity requires. max_chunks < 0: no limit.
Status plan_windows(size_t n_tokens, int n_ctx, int max_chunks, WindowPlan& out);

// log p(token) under softmax(logits), in double: logits[token] - max - log(sum exp(logits - max)).
double log_softmax_at(const float* logits, int n_vocab, int32_t token);

// The whole row: out[i] = log softmax(logits)[i], computed in double and rounded to float.
// logits and out are [n_vocab] f32.
void log_softmax_row(const float* logits, int n_vocab, float* out);

// Running sums of negative log-likelihoods: PPL = exp(mean) and its standard error by the delta
// method, ppl * sqrt(var(nll) / (count - 1)), as llama-perplexity prints it.
struct NllStats {
  double sum = 0.0;
  double sum2 = 0.0;
  int64_t count = 0;

  void add(double nll) {
    sum += nll;
    sum2 += nll * nll;
    ++count;
  }
  double mean() const { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
  double ppl() const;
  // 0 when it cannot be estimated (fewer than 2 values or no spread).
  double ppl_error() const;
};

// A mean and its standard error from running sums (llama.cpp's mean_and_uncertainty: the error
// is 0 for 10 values or fewer, too few to estimate it).
struct Estimate {
  double value = 0.0;
  double error = 0.0;
};
Estimate mean_and_error(double sum, double sum2, int64_t count);

// The comparison of a model (Q) with a base model's log-probabilities over the same tokens.
class KlStats {
 public:
  // One scored position. logits: [n_vocab] of the model under test; base_log_probs: [n_vocab]
  // log-softmax of the base model (as log_softmax_row wrote it); token: the actual next token.
  void add(const float* logits, const float* base_log_probs, int n_vocab, int32_t token);

  int64_t count() const { return count_; }
  Estimate ppl() const;             // PPL(Q)
  Estimate ppl_base() const;        // PPL(base)
  Estimate log_ppl_ratio() const;   // ln(PPL(Q) / PPL(base)), with the covariance of the two
  double log_ppl_correlation() const;  // Cor(ln PPL(Q), ln PPL(base))
  Estimate ppl_ratio() const;       // PPL(Q) / PPL(base)
  Estimate ppl_difference() const;  // PPL(Q) - PPL(base)
  Estimate kl_divergence() const;   // mean KL(base || Q) per token, nats
  Estimate p_diff() const;          // mean of p_Q(token) - p_base(token)
  Estimate p_diff_rms() const;      // RMS of the same
  Estimate same_top() const;        // fraction of positions where both argmaxes agree

  // Sorted copies of the per-token values, for percentiles.
  std::vector<float> sorted_kl() const;
  std::vector<float> sorted_p_diff() const;

 private:
  double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
  double sum_kld_ = 0, sum_kld2_ = 0, sum_p_diff_ = 0, sum_p_diff2_ = 0, sum_p_diff4_ = 0;
  int64_t n_same_top_ = 0;
  int64_t count_ = 0;
  std::vector<float> kld_values_;     // [count] KL divergence per scored token
  std::vector<float> p_diff_values_;  // [count] p_Q(token) - p_base(token)
  std::vector<float> row_;            // [n_vocab] scratch: log-softmax of the logits under test
};

// Percentile of sorted values by linear interpolation at fraction * (n - 1) (llama.cpp's rule);
// the median of an even count is the mean of the two middle values. values must not be empty.
double percentile(const std::vector<float>& sorted, double fraction);
double median(const std::vector<float>& sorted);

}  // namespace loam::eval
