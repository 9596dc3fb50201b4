#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace loam::eval {

Status plan_windows(size_t n_tokens, int n_ctx, int max_chunks, WindowPlan& out) {
  // A window of fewer than 4 tokens scores nothing (positions n_ctx/2 .. n_ctx-2).
  if (n_ctx < 4) {
    return Status::error("the context (-c) must be at least 4 tokens, got " +
                         std::to_string(n_ctx));
  }
  const size_t need = 2 * static_cast<size_t>(n_ctx);
  if (n_tokens < need) {
    return Status::error("the text is " + std::to_string(n_tokens) +
                         " tokens; perplexity with a context of " + std::to_string(n_ctx) +
                         " needs at least " + std::to_string(need) + " (2 x -c)");
  }
  out.n_ctx = n_ctx;
  const size_t chunks = n_tokens / static_cast<size_t>(n_ctx);
  out.n_chunk = static_cast<int>(std::min<size_t>(chunks, 1u << 30));
  if (max_chunks >= 0) out.n_chunk = std::min(out.n_chunk, max_chunks);
  out.first = n_ctx / 2;
  return Status::ok();
}

namespace {

// max and log(sum exp(x - max)) of a row, in double.
void log_sum_exp(const float* logits, int n_vocab, double& max_out, double& lse_out) {
  double max_logit = logits[0];
  for (int i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, double{logits[i]});
  double sum = 0.0;
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(double{logits[i]} - max_logit);
  max_out = max_logit;
  lse_out = std::log(sum);
}

// Index of the largest value; the first one on ties.
int argmax(const float* v, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

}  // namespace

double log_softmax_at(const float* logits, int n_vocab, int32_t token) {
  double max_logit = 0.0, lse = 0.0;
  log_sum_exp(logits, n_vocab, max_logit, lse);
  return double{logits[token]} - max_logit - lse;
}

void log_softmax_row(const float* logits, int n_vocab, float* out) {
  double max_logit = 0.0, lse = 0.0;
  log_sum_exp(logits, n_vocab, max_logit, lse);
  for (int i = 0; i < n_vocab; ++i) {
    out[i] = static_cast<float>(double{logits[i]} - max_logit - lse);
  }
}

double NllStats::ppl() const { return std::exp(mean()); }

double NllStats::ppl_error() const {
  if (count < 2) return 0.0;
  const double m = mean();
  const double var = sum2 / static_cast<double>(count) - m * m;
  if (!(var > 0.0)) return 0.0;
  return ppl() * std::sqrt(var / static_cast<double>(count - 1));
}

Estimate mean_and_error(double sum, double sum2, int64_t count) {
  Estimate e;
  if (count < 1) return e;
  const double n = static_cast<double>(count);
  e.value = sum / n;
  const double var = sum2 / n - e.value * e.value;
  e.error = var > 0.0 && count > 10 ? std::sqrt(var / (n - 1.0)) : 0.0;
  return e;
}

void KlStats::add(const float* logits, const float* base_log_probs, int n_vocab, int32_t token) {
  row_.resize(static_cast<size_t>(n_vocab));
  // The model under test goes through the same rounding to float as the base file, so a model
  // compared with its own base file gives a KL divergence of exactly 0.
  log_softmax_row(logits, n_vocab, row_.data());
  const double nll = -double{row_[token]};
  const double nll_base = -double{base_log_probs[token]};
  sum_nll_ += nll;
  sum_nll2_ += nll * nll;
  sum_nll_base_ += nll_base;
  sum_nll_base2_ += nll_base * nll_base;
  sum_nll_nll_base_ += nll * nll_base;

  // KL(base || Q) = sum_i p_base(i) * (log p_base(i) - log p_Q(i)).
  double kld = 0.0;
  for (int i = 0; i < n_vocab; ++i) {
    const double lb = base_log_probs[i];
    kld += std::exp(lb) * (lb - double{row_[i]});
  }
  sum_kld_ += kld;
  sum_kld2_ += kld * kld;
  if (argmax(row_.data(), n_vocab) == argmax(base_log_probs, n_vocab)) ++n_same_top_;

  const double p_diff = std::exp(-nll) - std::exp(-nll_base);
  sum_p_diff_ += p_diff;
  sum_p_diff2_ += p_diff * p_diff;
  sum_p_diff4_ += p_diff * p_diff * p_diff * p_diff;
  kld_values_.push_back(static_cast<float>(kld));
  p_diff_values_.push_back(static_cast<float>(p_diff));
  ++count_;
}

namespace {

// Covariance of the two means (llama.cpp's: 0 for fewer than 10 values).
double covariance_of_means(double sum_a, double sum_b, double sum_ab, int64_t count) {
  if (count < 10) return 0.0;
  const double n = static_cast<double>(count);
  return (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1.0);
}

}  // namespace

Estimate KlStats::ppl() const {
  const Estimate l = mean_and_error(sum_nll_, sum_nll2_, count_);
  const double v = std::exp(l.value);
  return {v, v * l.error};
}

Estimate KlStats::ppl_base() const {
  const Estimate l = mean_and_error(sum_nll_base_, sum_nll_base2_, count_);
  const double v = std::exp(l.value);
  return {v, v * l.error};
}

Estimate KlStats::log_ppl_ratio() const {
  const Estimate q = mean_and_error(sum_nll_, sum_nll2_, count_);
  const Estimate b = mean_and_error(sum_nll_base_, sum_nll_base2_, count_);
  const double cov = covariance_of_means(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
  // Rounding can make the variance of a difference of identical values slightly negative.
  const double var = q.error * q.error + b.error * b.error - 2.0 * cov;
  return {q.value - b.value, std::sqrt(std::max(0.0, var))};
}

double KlStats::log_ppl_correlation() const {
  const Estimate q = mean_and_error(sum_nll_, sum_nll2_, count_);
  const Estimate b = mean_and_error(sum_nll_base_, sum_nll_base2_, count_);
  if (q.error <= 0.0 || b.error <= 0.0) return 0.0;
  return covariance_of_means(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_) /
         (q.error * b.error);
}

Estimate KlStats::ppl_ratio() const {
  const Estimate r = log_ppl_ratio();
  const double v = std::exp(r.value);
  return {v, v * r.error};
}

Estimate KlStats::ppl_difference() const {
  const Estimate q = ppl(), b = ppl_base();
  const double cov = q.value * b.value *
                     covariance_of_means(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
  const double var = q.error * q.error + b.error * b.error - 2.0 * cov;
  return {q.value - b.value, std::sqrt(std::max(0.0, var))};
}

Estimate KlStats::kl_divergence() const { return mean_and_error(sum_kld_, sum_kld2_, count_); }

Estimate KlStats::p_diff() const { return mean_and_error(sum_p_diff_, sum_p_diff2_, count_); }

Estimate KlStats::p_diff_rms() const {
  const Estimate mse = mean_and_error(sum_p_diff2_, sum_p_diff4_, count_);
  const double rms = std::sqrt(mse.value);
  // d sqrt(x) = dx / (2 sqrt(x))
  return {rms, rms > 0.0 ? 0.5 / rms * mse.error : 0.0};
}

Estimate KlStats::same_top() const {
  if (count_ < 1) return {};
  const double p = static_cast<double>(n_same_top_) / static_cast<double>(count_);
  const double err =
      count_ > 1 ? std::sqrt(p * (1.0 - p) / static_cast<double>(count_ - 1)) : 0.0;
  return {p, err};
}

std::vector<float> KlStats::sorted_kl() const {
  std::vector<float> v = kld_values_;
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<float> KlStats::sorted_p_diff() const {
  std::vector<float> v = p_diff_values_;
  std::sort(v.begin(), v.end());
  return v;
}

double percentile(const std::vector<float>& sorted, double fraction) {
  if (fraction <= 0.0) return sorted.front();
  if (fraction >= 1.0) return sorted.back();
  const double pos = fraction * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double t = pos - static_cast<double>(i);
  const size_t j = std::min(i + 1, sorted.size() - 1);
  return (1.0 - t) * sorted[i] + t * sorted[j];
}

double median(const std::vector<float>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 0 ? 0.5 * (double{sorted[n / 2 - 1]} + sorted[n / 2]) : double{sorted[n / 2]};
}

}  // namespace loam::eval
