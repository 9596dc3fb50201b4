// Hugging Face checkpoint directory -> Model, the same Model a GGUF file gives (tensor names,
// config, vocabulary, metadata as `loam convert` would write them). Weights stay in the
// safetensors mappings except attn_q/attn_k (row-permuted copies, see formats/hf_checkpoint.h)
// and the 1-D tensors (F32 copies).
#pragma once

#include <string>

#include "loam/model.h"
#include "loam/status.h"

namespace loam {

// `path`: a directory with config.json, or a .safetensors file beside one (is_hf_checkpoint_path).
Status load_hf_model(const std::string& path, const LoadOptions& options, Model& out);

// load_hf_model for a checkpoint directory or .safetensors file, load_model for anything else.
Status load_any_model(const std::string& path, const LoadOptions& options, Model& out);

}  // namespace loam
