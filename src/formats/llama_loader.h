// Internal pieces of load_model(): hyperparameters from GGUF metadata, their sanity checks, and
// binding the tensor table to the Model's weight fields.
#pragma once

#include <string>
#include <vector>

#include "loam/gguf.h"
#include "loam/model.h"
#include "loam/status.h"

namespace loam {

// Reads llama.* hyperparameters (defaults for the optional ones); n_vocab falls back to the
// token count, then to the rows of token_embd.weight.
Status read_llama_config(const GgufFile& file, ModelConfig& out);

// Sanity limits and consistency (head counts divide, n_rot <= head_dim, ...), checked before any
// size is computed from the config. Messages start with `path`.
Status check_llama_config(const std::string& path, const ModelConfig& config);

// Fills out.tok_embd, output_norm, output, layers, rope_freq_factors (from rope_freqs.weight,
// when present) and config.tied_embeddings from `tensors`
// (out.config must be set). Checks presence, shape and type of each tensor: matmul weights need a
// kernel, token_embd a row converter, norms are converted to F32 (into out.owned_buffers).
Status bind_llama_weights(const std::string& path, const std::vector<Tensor>& tensors,
                          Model& out);

// A Tensor view of a GGUF tensor-table entry (its data stays in the mapping).
Tensor tensor_from_info(const GgufTensorInfo& info);

// Renders "[64, 4]" for a tensor shape.
std::string shape_string(const int64_t* ne, int n_dims);

}  // namespace loam
