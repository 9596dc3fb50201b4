#include "cli/batch_setup.h"

#include <limits>

#include "cli/cli.h"
#include "core/memory_budget.h"
#include "model/interleave_weights.h"

namespace loam::cli {

Status create_multi_session_checked(const std::shared_ptr<Model>& model, const BatchPlan& plan,
                                    std::unique_ptr<MultiSession>& out, double& repack_ms) {
  repack_ms = 0.0;
  const int n_ctx = plan.options.n_ctx;
  const int n_threads = plan.options.n_threads;
  const uint64_t repack_bytes = plan.repack ? interleaved_weight_bytes(*model) : 0;
  auto need_for = [&](int k) {
    const uint64_t s = MultiSession::memory_bytes(model->config, n_ctx, n_threads, k,
                                                 plan.options.cache_type_k, plan.options.cache_type_v);
    return s > std::numeric_limits<uint64_t>::max() - repack_bytes
               ? std::numeric_limits<uint64_t>::max()
               : s + repack_bytes;
  };
  const MemoryBudget budget = available_memory(plan.max_memory);
  int k = plan.parallel;
  if (k == 0) {
    // The most sequences that fit, so the default never asks for more than the machine has.
    k = 1;
    while (k < plan.max_parallel && need_for(k + 1) <= budget.available) ++k;
  }
  std::string what = std::to_string(k) + (k == 1 ? " sequence" : " parallel sequences") +
                     " with a context of " + std::to_string(n_ctx) + " tokens each";
  if (repack_bytes > 0) what += " and the repacked weights (" + describe_bytes(repack_bytes) + ")";
  if (Status fits = check_memory(what, need_for(k), budget); !fits) {
    return Status::error(fits.message() + "; a smaller -c or --parallel needs less" +
                         (repack_bytes > 0 ? ", as does --no-repack" : ""));
  }
  if (plan.repack) {
    Stopwatch clock;
    LOAM_TRY(interleave_weights(*model));
    repack_ms = clock.ms();
  }
  return MultiSession::create(model, plan.options, k, out);
}

}  // namespace loam::cli
