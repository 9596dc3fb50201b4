// What `loam batch` needs between loading the model and running: the number of sequences that
// fit in memory (--parallel's default), and the MultiSession created after that memory check.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "loam/model.h"
#include "loam/multi_session.h"
#include "loam/session.h"
#include "loam/status.h"

namespace loam::cli {

struct BatchPlan {
  SessionOptions options;   // resolved (n_ctx, n_threads > 0)
  int parallel = 0;         // 0: the most that fit, at most max_parallel
  int max_parallel = 8;
  bool repack = true;
  uint64_t max_memory = 0;  // --max-memory; 0: what the system has available
};

// Picks the number of sequences (the given one, or the most up to max_parallel that fit next to
// the repacked weights), checks the memory, repacks and creates the MultiSession. The refusal
// names the bytes needed and available.
Status create_multi_session_checked(const std::shared_ptr<Model>& model, const BatchPlan& plan,
                                    std::unique_ptr<MultiSession>& out, double& repack_ms);

}  // namespace loam::cli
