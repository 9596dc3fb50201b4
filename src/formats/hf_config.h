// Hugging Face config.json and generation_config.json of a LLaMA-family checkpoint
// (LlamaForCausalLM, MistralForCausalLM): the hyperparameters, the rope scaling turned into
// per-dimension frequency factors (what GGUF stores as rope_freqs.weight), the special token ids
// and the sampling defaults. Keys and defaults are those of transformers' LlamaConfig.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loam/status.h"

namespace loam {

struct HfConfig {
  std::string architecture;        // architectures[0]
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0; // default: num_attention_heads
  int64_t head_dim = 0;            // default: hidden_size / num_attention_heads
  int64_t num_hidden_layers = 0;
  int64_t max_position_embeddings = 2048;
  int64_t vocab_size = 32000;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;

  std::string rope_scaling_type;   // "" (none) or "llama3"
  // [head_dim / 2] divisors of the rope frequencies (GGUF rope_freqs.weight); empty without
  // scaling. Position p rotates pair i by p * theta^(-2i/head_dim) / rope_freq_factors[i].
  std::vector<float> rope_freq_factors;
  // llama3 parameters, kept for the GGUF metadata (rope.scaling.*).
  double rope_factor = 0.0;
  int64_t rope_original_context = 0;

  int64_t bos_token_id = -1;       // -1: not given
  std::vector<int64_t> eos_token_ids;  // a number or a list in the file

  // generation_config.json (has_* false when the file or the key is absent).
  bool has_temperature = false, has_top_p = false;
  double temperature = 0.0, top_p = 0.0;
};

// Parses config.json's text; `path` prefixes the messages. An architecture other than
// LlamaForCausalLM / MistralForCausalLM, or a rope scaling type other than llama3 / default, is
// an error naming it.
Status parse_hf_config(const std::string& text, const std::string& path, HfConfig& out);

// Adds generation_config.json's temperature, top_p, and its bos/eos ids when config.json has
// none (eos: a number or a list).
Status parse_hf_generation_config(const std::string& text, const std::string& path,
                                  HfConfig& config);

// Transformers' _compute_llama3_parameters as the factors llama.cpp's converter writes:
// 1 for wavelengths below original_context / high_freq_factor, `factor` above
// original_context / low_freq_factor, and a smooth blend between.
std::vector<float> llama3_rope_factors(double theta, int64_t head_dim, double factor,
                                       double low_freq_factor, double high_freq_factor,
                                       double original_context);

}  // namespace loam
