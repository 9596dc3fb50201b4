// The shapes of well-known LLaMA-family models, for models built in memory (`loam bench
// --synthetic SHAPE:TYPE`): their published hyperparameters, vocabulary size and GQA.
#pragma once

#include <string>
#include <vector>

#include "loam/model.h"

namespace loam {

struct ModelShape {
  const char* name;         // "tinyllama-1.1b"
  const char* description;  // "TinyLlama 1.1B (Llama 2 architecture, GQA 8:1)"
  ModelConfig config;       // n_vocab, heads, tied embeddings, rope base ... as published
};

// Every known shape, in size order.
const std::vector<ModelShape>& model_shapes();
// The shape called `name` (case-insensitive), or nullptr.
const ModelShape* find_model_shape(const std::string& name);
// "stories15M, stories110M, ..." for help texts and errors.
std::string model_shape_names();

}  // namespace loam
