#include "loam/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace loam {

Status validate_sampler_params(const SamplerParams& params) {
  auto bad = [](const char* what, double got) {
    return Status::error(std::string(what) + ", got " + std::to_string(got));
  };
  if (!std::isfinite(params.temp)) return bad("temp must be a finite number", params.temp);
  if (!(params.top_p >= 0.0f && params.top_p <= 1.0f)) return bad("top_p must be in [0, 1]", params.top_p);
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) return bad("min_p must be in [0, 1]", params.min_p);
  if (!(params.repeat_penalty > 0.0f) || !std::isfinite(params.repeat_penalty)) {
    return bad("repeat_penalty must be a finite number > 0", params.repeat_penalty);
  }
  if (params.repeat_last_n < 0) return bad("repeat_last_n must be >= 0", params.repeat_last_n);
  return Status::ok();
}

uint64_t Rng::next_u64() {
  // splitmix64: a Weyl sequence scrambled by two xor-shift-multiply rounds.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::next_double() {
  // The top 53 bits fill a double's mantissa exactly, so every value is k / 2^53, k < 2^53.
  return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0);
}

void Candidates::assign(const float* logits, int n_vocab) {
  items.resize(static_cast<size_t>(std::max(n_vocab, 0)));
  for (int i = 0; i < n_vocab; ++i) {
    // A NaN would break the strict weak ordering every sort here relies on; it can never win.
    const float l = std::isnan(logits[i]) ? -std::numeric_limits<float>::infinity() : logits[i];
    items[static_cast<size_t>(i)] = Candidate{i, l, 0.0f};
  }
  sorted = false;
}

namespace {

// Descending logit, ties by ascending id: a total order, so results never depend on the sort
// algorithm's handling of equal elements.
bool before(const Candidate& a, const Candidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

void ensure_sorted(Candidates& c) {
  if (c.sorted) return;
  std::sort(c.items.begin(), c.items.end(), before);
  c.sorted = true;
}

}  // namespace

void apply_repetition_penalty(Candidates& c, const int32_t* history, int n_history,
                              float penalty) {
  if (penalty == 1.0f || n_history <= 0) return;
  std::vector<int32_t> seen(history, history + n_history);
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (Candidate& cand : c.items) {
    if (!std::binary_search(seen.begin(), seen.end(), cand.id)) continue;
    // Dividing a negative logit would raise it; multiplying always moves it away from "likely".
    cand.logit = cand.logit <= 0.0f ? cand.logit * penalty : cand.logit / penalty;
  }
  c.sorted = false;
}

void apply_top_k(Candidates& c, int k) {
  const size_t n = c.items.size();
  if (k <= 0 || static_cast<size_t>(k) >= n) {
    ensure_sorted(c);
    return;
  }
  if (!c.sorted) {
    std::partial_sort(c.items.begin(), c.items.begin() + k, c.items.end(), before);
  }
  c.items.resize(static_cast<size_t>(k));
  c.sorted = true;
}

void apply_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.items.empty()) return;
  apply_softmax(c);
  double cum = 0.0;
  size_t keep = c.items.size();
  for (size_t i = 0; i < c.items.size(); ++i) {
    cum += c.items[i].p;
    if (cum >= p) {
      keep = i + 1;
      break;
    }
  }
  c.items.resize(keep);
}

void apply_min_p(Candidates& c, float p) {
  if (p <= 0.0f || c.items.empty()) return;
  float max_logit = c.items[0].logit;
  for (const Candidate& cand : c.items) max_logit = std::max(max_logit, cand.logit);
  // p_i / p_max = exp(l_i - l_max) >= p  <=>  l_i >= l_max + log(p); the max always stays.
  const float threshold = max_logit + std::log(p);
  auto drop = [&](const Candidate& cand) {
    return cand.logit < threshold && cand.logit != max_logit;
  };
  c.items.erase(std::remove_if(c.items.begin(), c.items.end(), drop), c.items.end());
}

void apply_temperature(Candidates& c, float temp) {
  if (!(temp > 0.0f)) return;
  for (Candidate& cand : c.items) cand.logit /= temp;
}

void apply_softmax(Candidates& c) {
  if (c.items.empty()) return;
  ensure_sorted(c);
  const float max_logit = c.items[0].logit;
  if (max_logit == -std::numeric_limits<float>::infinity()) {
    // Every token is impossible: fall back to uniform rather than dividing 0 by 0.
    for (Candidate& cand : c.items) cand.p = 1.0f / static_cast<float>(c.items.size());
    return;
  }
  double sum = 0.0;
  for (Candidate& cand : c.items) {
    cand.p = std::exp(cand.logit - max_logit);
    sum += cand.p;
  }
  for (Candidate& cand : c.items) cand.p = static_cast<float>(cand.p / sum);
}

int32_t draw_token(const Candidates& c, double u) {
  if (c.items.empty()) return -1;
  double total = 0.0;
  for (const Candidate& cand : c.items) total += cand.p;
  const double target = u * total;
  double cum = 0.0;
  for (const Candidate& cand : c.items) {
    cum += cand.p;
    if (target < cum) return cand.id;
  }
  // Rounding left target at the very top: take the last candidate that had any probability.
  for (size_t i = c.items.size(); i-- > 0;) {
    if (c.items[i].p > 0.0f) return c.items[i].id;
  }
  return c.items[0].id;
}

int32_t argmax(const float* logits, int n) {
  int32_t best = -1;
  for (int i = 0; i < n; ++i) {
    if (std::isnan(logits[i])) continue;
    if (best < 0 || logits[i] > logits[best]) best = i;  // strict >: lowest index wins ties
  }
  return best < 0 && n > 0 ? 0 : best;
}

Sampler::Sampler(const SamplerParams& params)
    : params_(params), rng_(params.seed),
      history_(static_cast<size_t>(std::max(params.repeat_last_n, 0))) {}

void Sampler::accept(int32_t id) {
  if (history_.empty()) return;
  history_[history_next_] = id;
  history_next_ = (history_next_ + 1) % history_.size();
  history_count_ = std::min(history_count_ + 1, history_.size());
}

void Sampler::reset() {
  rng_ = Rng(params_.seed);
  history_next_ = 0;
  history_count_ = 0;
}

int32_t Sampler::sample(const float* logits, int n_vocab) {
  if (n_vocab <= 0) return -1;
  candidates_.assign(logits, n_vocab);

  if (params_.repeat_penalty != 1.0f && history_count_ > 0) {
    // The ring holds the latest history_count_ tokens ending just before history_next_.
    recent_.clear();
    const size_t cap = history_.size();
    for (size_t i = 0; i < history_count_; ++i) {
      recent_.push_back(history_[(history_next_ + cap - history_count_ + i) % cap]);
    }
    apply_repetition_penalty(candidates_, recent_.data(), static_cast<int>(recent_.size()),
                             params_.repeat_penalty);
  }

  if (params_.temp <= 0.0f) {
    // Greedy: no random draw, so greedy output never depends on the seed. Candidates are still
    // in id order here (the penalty does not reorder), so the lowest id wins ties.
    const Candidate* best = &candidates_.items[0];
    for (const Candidate& cand : candidates_.items) {
      if (cand.logit > best->logit) best = &cand;
    }
    return best->id;
  }

  apply_top_k(candidates_, params_.top_k);
  apply_top_p(candidates_, params_.top_p);
  apply_min_p(candidates_, params_.min_p);
  apply_temperature(candidates_, params_.temp);
  apply_softmax(candidates_);
  return draw_token(candidates_, rng_.next_double());
}

}  // namespace loam
