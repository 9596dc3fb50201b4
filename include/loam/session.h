// Per-sequence state: the KV cache, scratch buffers and position. The Model it runs is shared and
// never modified, so several Sessions can run the same weights.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loam/model.h"
#include "loam/status.h"

namespace loam {

class ThreadPool;

struct SessionOptions {
  int n_ctx = 0;      // KV cache length; 0 = min(model context, 4096)
  int n_threads = 0;  // 0 = number of physical cores this process may use
};

class Session {
 public:
  // Checks the options against the model and allocates the KV cache and scratch once.
  static Status create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       std::unique_ptr<Session>& out);
  ~Session();

  // Runs `tokens` at the next positions. Afterwards logits() holds the logits after the last one;
  // when all_logits is given it receives one row of n_vocab per token (teacher forcing).
  // Fails, changing nothing, when the tokens would not fit in the context or an id is out of range.
  Status eval(const int32_t* tokens, int n_tokens, std::vector<float>* all_logits = nullptr);
  Status eval(const std::vector<int32_t>& tokens, std::vector<float>* all_logits = nullptr) {
    return eval(tokens.data(), static_cast<int>(tokens.size()), all_logits);
  }

  const float* logits() const { return logits_.data(); }  // [n_vocab] f32
  int position() const { return n_past_; }
  int context_length() const { return n_ctx_; }
  int max_batch() const { return max_batch_; }  // tokens per forward pass in eval()
  int threads() const;
  void reset() { n_past_ = 0; }
  // Forgets the positions from n on and keeps the cache of the first n tokens, so a benchmark at
  // a filled context (llama-bench -d) fills it once, not before every repetition.
  void truncate(int n) {
    if (n >= 0 && n < n_past_) n_past_ = n;
  }
  // Bytes create() would allocate for this model and these options (KV cache, activations,
  // logits), so a caller can check them against the memory available first. n_ctx and n_threads
  // as in SessionOptions, already resolved (> 0). Saturates at UINT64_MAX instead of wrapping
  // (a context of 2^31 tokens of a large model needs more than 2^64 bytes).
  static uint64_t memory_bytes(const ModelConfig& config, int n_ctx, int n_threads);
  // The options create() would use: n_ctx 0 becomes min(model context, 4096) and n_threads 0
  // default_thread_count(). Other values are returned as given (create() checks them).
  static SessionOptions resolve(const ModelConfig& config, const SessionOptions& options);
  const Model& model() const { return *model_; }

 private:
  Session() = default;
  void forward_batch(const int32_t* tokens, int n, float* logits_out);

  std::shared_ptr<const Model> model_;
  std::unique_ptr<ThreadPool> pool_;
  int n_ctx_ = 0;
  int n_past_ = 0;
  int max_batch_ = 0;
  std::vector<float> k_cache_;   // [n_layer][n_ctx][kv_dim] f32
  std::vector<float> v_cache_;   // [n_layer][n_ctx][kv_dim] f32
  std::vector<float> x_;         // [max_batch][n_embd] residual stream
  std::vector<float> xn_;        // [max_batch][n_embd] normed input to a matmul
  std::vector<float> q_;         // [max_batch][n_head*head_dim]
  std::vector<float> k_;         // [max_batch][kv_dim]
  std::vector<float> v_;         // [max_batch][kv_dim]
  std::vector<float> attn_out_;  // [max_batch][n_head*head_dim]
  std::vector<float> gate_;      // [max_batch][n_ff]
  std::vector<float> up_;        // [max_batch][n_ff]
  std::vector<float> scores_;    // [n_threads][n_ctx] attention weights, one row per thread
  std::vector<float> rope_cos_;  // [n_ctx][n_rot/2]
  std::vector<float> rope_sin_;  // [n_ctx][n_rot/2]
  std::vector<float> logits_;    // [n_vocab] after the last token
  std::vector<float> batch_logits_;  // [max_batch][n_vocab]
  std::vector<uint8_t> act_scratch_; // activations converted to Q8_0 / Q8_K blocks for a matmul
};

// Default thread count: physical cores available to the process (never more than the CPUs the
// affinity mask allows), so a default run does not oversubscribe.
int default_thread_count();

}  // namespace loam
