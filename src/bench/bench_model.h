// What `loam bench` reports about a model: llama-bench's description and sizes, and the bytes one
// generated token reads (for the bandwidth fraction and the roofline).
#pragma once

#include <cstdint>
#include <string>

#include "loam/model.h"
#include "quant/quant_mix.h"

namespace loam::bench {

struct ModelSummary {
  std::string filename;  // path, or "synthetic:SHAPE:TYPE"
  std::string label;     // short name for charts: file name without directories, or SHAPE:TYPE
  std::string type;      // "llama 1B Q4_0"
  uint64_t size = 0;     // bytes of all tensors
  uint64_t n_params = 0;
  uint64_t weight_bytes_per_token = 0;  // matmul weights + output matrix + one embedding row
  uint64_t kv_bytes_per_position = 0;   // K and V of one position, all layers (F32 cache)
};

// llama.cpp's name of a file type: "Q4_K - Medium", "all F32", ...
std::string llama_cpp_ftype_name(FileType type);

// Summarizes a loaded or synthetic model. The file type comes from general.file_type when the
// file has it, else from the type of the first layer's attn_q (llama.cpp guesses the same way).
ModelSummary summarize_model(const Model& model, const std::string& label);

// Bytes a generated token reads at context depth `depth` over `n_gen` tokens (mean position).
uint64_t bytes_per_generated_token(const ModelSummary& m, int depth, int n_gen);

}  // namespace loam::bench
