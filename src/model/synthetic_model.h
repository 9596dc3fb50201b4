// A model that is not on disk: a known shape (model/model_shapes.h) with deterministic
// pseudo-random weights of the exact sizes a file of that type would have, built in memory.
// `loam bench --synthetic tinyllama-1.1b:q4_0` measures what a model would do on this machine
// before anyone downloads it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loam/model.h"
#include "loam/status.h"
#include "quant/quant_mix.h"

namespace loam {

struct SyntheticTensor {
  std::string name;     // GGUF name: "blk.0.attn_q.weight"
  DType type;           // as `loam quantize` (llama-quantize's rules) assigns it
  int n_dims;
  int64_t ne[2];        // ne[0] = row length
  size_t nbytes;
  size_t offset;        // in the weight buffer, 64-byte aligned
};

struct SyntheticPlan {
  std::string spec;          // "tinyllama-1.1b:Q4_0"
  std::string shape_name;    // "tinyllama-1.1b"
  FileType file_type = FileType::AllF32;
  ModelConfig config;
  std::vector<SyntheticTensor> tensors;  // in GGUF converter order
  uint64_t n_params = 0;     // elements of all tensors
  uint64_t weight_bytes = 0; // bytes of all tensors (what the file's tensor data would hold)
  uint64_t buffer_bytes = 0; // weight_bytes plus alignment padding
  // Extra bytes held at once while weights are copied into interleaved layouts at build time:
  // the largest such tensor (its file-layout pages are freed right after its copy).
  uint64_t interleave_peak_bytes = 0;
};

// Parses "SHAPE:TYPE" (type names as `loam quantize` takes them, case-insensitive: q4_0, Q4_K_M,
// f16, ...) and lays out the tensors. Allocates nothing.
Status plan_synthetic_model(const std::string& spec, SyntheticPlan& out);

// Allocates plan.buffer_bytes of anonymous memory, fills every tensor with deterministic
// pseudo-random values on `n_threads` threads (the bytes depend only on `seed`, never on the
// thread count), binds the weights and, when `interleave`, repacks them as load_model does.
// Norm weights are 1; other weights are small (|w| < 0.07) so activations stay finite.
Status build_synthetic_model(const SyntheticPlan& plan, uint64_t seed, int n_threads,
                             bool interleave, Model& out);

}  // namespace loam
