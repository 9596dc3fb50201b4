// y = W x for one or more activation rows, with W in its file format, split across the thread
// pool by output rows (each row is computed by one thread in a fixed order, so results do not
// depend on the thread count).
#pragma once

#include <cstdint>
#include <vector>

#include "loam/model.h"

namespace loam {

class ThreadPool;

struct MatmulJob {
  const Tensor* w;  // [rows][cols]
  const float* x;   // [n_tokens][cols] f32
  float* y;         // [n_tokens][rows] f32
};

// Runs every job over the same n_tokens in one parallel section (Q/K/V and gate/up share their
// input, and one section costs one synchronisation instead of several). `act_scratch` is reused
// for activations converted to the kernels' activation formats.
void matmul(ThreadPool& pool, const MatmulJob* jobs, int n_jobs, int n_tokens,
            std::vector<uint8_t>& act_scratch);

}  // namespace loam
