// llama hyperparameters from GGUF metadata, and the checks every loaded config must pass.
#include <cmath>
#include <cstdint>

#include "formats/llama_loader.h"

namespace loam {

namespace {

// Beyond any real model; they reject garbage before it sizes an allocation.
constexpr int64_t kMaxEmbd = 1 << 20;
constexpr int64_t kMaxFf = 1 << 22;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1 << 14;
constexpr int64_t kMaxVocab = 1 << 22;
constexpr int64_t kMaxCtx = 1 << 24;

Status get_dim(const GgufFile& f, const std::string& key, int64_t max, int& out) {
  int64_t v = 0;
  LOAM_TRY(f.get_int(key, v));
  if (v <= 0 || v > max) {
    return Status::error(f.path() + ": key '" + key + "' is " + std::to_string(v) +
                         ", outside 1.." + std::to_string(max));
  }
  out = static_cast<int>(v);
  return Status::ok();
}

Status get_dim_opt(const GgufFile& f, const std::string& key, int64_t max, int& out) {
  if (!f.has(key)) return Status::ok();
  return get_dim(f, key, max, out);
}

Status limit(const std::string& path, const char* what, int64_t v, int64_t max) {
  if (v <= 0 || v > max) {
    return Status::error(path + ": " + what + " is " + std::to_string(v) + ", outside 1.." +
                         std::to_string(max));
  }
  return Status::ok();
}

// When <arch>.vocab_size is given, the token list and the embedding table must agree with it
// (a converter bug or a hand-edited key; llama.cpp would fail later on a tensor shape).
Status check_vocab_size_key(const GgufFile& f, const std::string& key, int n_vocab) {
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens != nullptr && tokens->is_array() && tokens->count != static_cast<uint64_t>(n_vocab)) {
    return Status::error(f.path() + ": key '" + key + "' is " + std::to_string(n_vocab) +
                         " but tokenizer.ggml.tokens has " + std::to_string(tokens->count) +
                         " tokens");
  }
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd != nullptr && embd->ne[1] != n_vocab) {
    return Status::error(f.path() + ": key '" + key + "' is " + std::to_string(n_vocab) +
                         " but token_embd.weight has " + std::to_string(embd->ne[1]) +
                         " rows");
  }
  return Status::ok();
}

// llama.cpp's rope scaling keys: <arch>.rope.scaling.type ("none", "linear", "yarn",
// "longrope"; "linear" when absent) and <arch>.rope.scaling.factor (older files:
// rope.scale_linear). Linear scaling divides every angle by the factor; "none" ignores it. YaRN
// and LongRoPE change the angles and the attention scale in other ways and are refused rather
// than run wrong. (Llama 3.1 scaling has no keys: it comes as rope_freqs.weight.)
Status read_rope_scaling(const GgufFile& f, const std::string& a, ModelConfig& c) {
  std::string type = "linear";
  LOAM_TRY(f.get_string_opt(a + "rope.scaling.type", type));
  double factor = 0.0;
  bool found = false;
  LOAM_TRY(f.get_float_opt(a + "rope.scaling.factor", factor, &found));
  if (!found) LOAM_TRY(f.get_float_opt(a + "rope.scale_linear", factor));
  c.rope_scale_linear = 1.0f;
  if (type == "none") return Status::ok();
  if (type == "yarn" || type == "longrope") {
    return Status::error(f.path() + ": key '" + a + "rope.scaling.type' is '" + type +
                         "', which loam does not support (only linear scaling and "
                         "rope_freqs.weight factors)");
  }
  if (type != "linear") {
    return Status::error(f.path() + ": key '" + a + "rope.scaling.type' is '" + type +
                         "', expected none, linear, yarn or longrope");
  }
  if (factor == 0.0) return Status::ok();  // llama.cpp: 0 or absent means no scaling
  if (!(std::isfinite(factor) && factor > 0.0 && factor < 1e6)) {
    return Status::error(f.path() + ": rope scaling factor " + std::to_string(factor) +
                         " must be positive");
  }
  c.rope_scale_linear = static_cast<float>(factor);
  return Status::ok();
}

}  // namespace

Status read_llama_config(const GgufFile& f, ModelConfig& c) {
  const std::string a = "llama.";
  c.arch = "llama";
  LOAM_TRY(get_dim(f, a + "embedding_length", kMaxEmbd, c.n_embd));
  LOAM_TRY(get_dim(f, a + "block_count", kMaxLayers, c.n_layer));
  LOAM_TRY(get_dim(f, a + "feed_forward_length", kMaxFf, c.n_ff));
  LOAM_TRY(get_dim(f, a + "attention.head_count", kMaxHeads, c.n_head));
  LOAM_TRY(get_dim(f, a + "context_length", kMaxCtx, c.n_ctx_train));
  c.n_head_kv = c.n_head;
  LOAM_TRY(get_dim_opt(f, a + "attention.head_count_kv", kMaxHeads, c.n_head_kv));
  if (c.n_embd % c.n_head != 0) {
    return Status::error(f.path() + ": attention.head_count " + std::to_string(c.n_head) +
                         " does not divide embedding_length " + std::to_string(c.n_embd));
  }
  c.head_dim = c.n_embd / c.n_head;
  c.n_rot = c.head_dim;
  LOAM_TRY(get_dim_opt(f, a + "rope.dimension_count", kMaxEmbd, c.n_rot));

  double base = 10000.0, eps = 1e-5;
  LOAM_TRY(f.get_float_opt(a + "rope.freq_base", base));
  LOAM_TRY(f.get_float_opt(a + "attention.layer_norm_rms_epsilon", eps));
  c.rope_freq_base = static_cast<float>(base);
  c.rms_eps = static_cast<float>(eps);
  LOAM_TRY(read_rope_scaling(f, a, c));

  c.n_vocab = 0;
  LOAM_TRY(get_dim_opt(f, a + "vocab_size", kMaxVocab, c.n_vocab));
  if (c.n_vocab != 0) LOAM_TRY(check_vocab_size_key(f, a + "vocab_size", c.n_vocab));
  if (c.n_vocab == 0) {
    if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens")) {
      if (tokens->is_array()) c.n_vocab = static_cast<int>(std::min<uint64_t>(tokens->count,
                                                                                kMaxVocab + 1));
    }
  }
  if (c.n_vocab == 0) {
    if (const GgufTensorInfo* t = f.find_tensor("token_embd.weight")) {
      c.n_vocab = static_cast<int>(std::min<int64_t>(t->ne[1], kMaxVocab + 1));
    }
  }
  if (c.n_vocab == 0) {
    return Status::error(f.path() + ": cannot tell the vocabulary size (no llama.vocab_size, " +
                         "tokenizer.ggml.tokens or token_embd.weight)");
  }
  return check_llama_config(f.path(), c);
}

Status check_llama_config(const std::string& path, const ModelConfig& c) {
  LOAM_TRY(limit(path, "embedding length", c.n_embd, kMaxEmbd));
  LOAM_TRY(limit(path, "block count", c.n_layer, kMaxLayers));
  LOAM_TRY(limit(path, "feed-forward length", c.n_ff, kMaxFf));
  LOAM_TRY(limit(path, "head count", c.n_head, kMaxHeads));
  LOAM_TRY(limit(path, "kv head count", c.n_head_kv, kMaxHeads));
  LOAM_TRY(limit(path, "context length", c.n_ctx_train, kMaxCtx));
  LOAM_TRY(limit(path, "vocabulary size", c.n_vocab, kMaxVocab));
  if (c.n_embd % c.n_head != 0 || c.head_dim != c.n_embd / c.n_head) {
    return Status::error(path + ": head count " + std::to_string(c.n_head) +
                         " does not divide embedding length " + std::to_string(c.n_embd));
  }
  if (c.n_head % c.n_head_kv != 0) {
    return Status::error(path + ": kv head count " + std::to_string(c.n_head_kv) +
                         " does not divide head count " + std::to_string(c.n_head));
  }
  if (c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    return Status::error(path + ": rope dimension count " + std::to_string(c.n_rot) +
                         " must be even and at most the head size " +
                         std::to_string(c.head_dim));
  }
  if (!(std::isfinite(c.rope_freq_base) && c.rope_freq_base > 0.0f)) {
    return Status::error(path + ": rope frequency base " + std::to_string(c.rope_freq_base) +
                         " must be positive");
  }
  if (!(std::isfinite(c.rms_eps) && c.rms_eps > 0.0f)) {
    return Status::error(path + ": RMS norm epsilon " + std::to_string(c.rms_eps) +
                         " must be positive");
  }
  return Status::ok();
}

}  // namespace loam
