// Test helpers that drive the engine through its public API (load_model, Session) and measure
// how far its logits are from an expected set.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/model.h"
#include "loam/session.h"

namespace loam_test {

// Loads a model; a failure is recorded with the loader's message and stops the case.
inline std::shared_ptr<const loam::Model> load_or_stop(const std::string& path,
                                                       const loam::LoadOptions& opts = {}) {
  auto model = std::make_shared<loam::Model>();
  const loam::Status st = loam::load_model(path, opts, *model);
  if (!st) {
    record_failure(__FILE__, __LINE__, "load_model(" + path + "): " + st.message());
    throw StopCase{};
  }
  return model;
}

inline std::unique_ptr<loam::Session> session_or_stop(std::shared_ptr<const loam::Model> model,
                                                      int n_threads, int n_ctx) {
  loam::SessionOptions opts;
  opts.n_threads = n_threads;
  opts.n_ctx = n_ctx;
  // The goldens and the slow reference keep K and V in f32; so does the engine when compared.
  opts.cache_type_k = opts.cache_type_v = loam::DType::F32;
  std::unique_ptr<loam::Session> session;
  const loam::Status st = loam::Session::create(std::move(model), opts, session);
  if (!st || !session) {
    record_failure(__FILE__, __LINE__, "Session::create: " + st.message());
    throw StopCase{};
  }
  return session;
}

// Teacher-forced logits [n_tokens][n_vocab]: the whole sequence in one eval (chunk = 0) or in
// chunks of `chunk` tokens (chunk = 1: one token at a time, the decode path).
inline std::vector<float> engine_logits(std::shared_ptr<const loam::Model> model,
                                        const std::vector<int32_t>& tokens, int n_threads,
                                        int chunk, int n_ctx) {
  auto session = session_or_stop(model, n_threads, n_ctx);
  const size_t n_vocab = static_cast<size_t>(model->config.n_vocab);
  std::vector<float> all;
  all.reserve(tokens.size() * n_vocab);
  const int n = static_cast<int>(tokens.size());
  const int step = chunk > 0 ? chunk : n;
  for (int at = 0; at < n; at += step) {
    const int len = std::min(step, n - at);
    std::vector<float> rows;
    const loam::Status st = session->eval(tokens.data() + at, len, &rows);
    if (!st) {
      record_failure(__FILE__, __LINE__, "Session::eval: " + st.message());
      throw StopCase{};
    }
    if (rows.size() != static_cast<size_t>(len) * n_vocab) {
      record_failure(__FILE__, __LINE__,
                     "eval returned " + std::to_string(rows.size()) + " logits for " +
                         std::to_string(len) + " tokens x " + std::to_string(n_vocab));
      throw StopCase{};
    }
    // logits() must be the last row of what eval returned.
    if (!std::equal(rows.end() - n_vocab, rows.end(), session->logits()))
      record_failure(__FILE__, __LINE__, "logits() differs from the last row of all_logits");
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

// Per-row figures of engine logits `a` against expected `b`, both [rows][n_vocab].
struct RowStats {
  double max_abs = 0;        // max |a - b|
  double max_abs_ref = 0;    // max |b|
  double rel_rms = 0;        // rms(a - b) / rms(b)
  bool argmax_equal = true;
  bool finite = true;
};

template <class A, class B>
RowStats row_stats(const A* a, const B* b, size_t n) {
  RowStats s;
  double sq_diff = 0, sq_ref = 0;
  size_t arg_a = 0, arg_b = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i];
    if (!std::isfinite(x)) s.finite = false;
    const double diff = std::fabs(x - y);
    s.max_abs = std::max(s.max_abs, diff);
    s.max_abs_ref = std::max(s.max_abs_ref, std::fabs(y));
    sq_diff += diff * diff;
    sq_ref += y * y;
    if (a[i] > a[arg_a]) arg_a = i;
    if (b[i] > b[arg_b]) arg_b = i;
  }
  s.rel_rms = sq_ref > 0 ? std::sqrt(sq_diff / sq_ref) : std::sqrt(sq_diff);
  s.argmax_equal = arg_a == arg_b;
  if (!s.finite) s.max_abs = s.rel_rms = INFINITY;
  return s;
}

}  // namespace loam_test
