// Per-sequence state: the KV cache, scratch buffers and position. The Model it runs is shared and
// never modified, so several Sessions can run the same weights.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loam/dtype.h"
#include "loam/model.h"
#include "loam/status.h"

namespace loam {

class ThreadPool;

// The KV cache type when none is given: F16, as llama.cpp's default. It halves the cache's
// memory and the bytes attention reads per token against F32 (which the golden references
// were made with: the tests that compare with them ask for F32).
constexpr DType kDefaultCacheType = DType::F16;

struct SessionOptions {
  int n_ctx = 0;      // KV cache length; 0 = min(model context, 4096)
  int n_threads = 0;  // 0 = number of physical cores this process may use
  DType cache_type_k = kDefaultCacheType;  // F32, F16 or Q8_0 (--cache-type-k)
  DType cache_type_v = kDefaultCacheType;  // F32, F16 or Q8_0 (--cache-type-v)
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

  const float* logits() const;  // [n_vocab] f32
  int position() const;
  int context_length() const;
  int max_batch() const;  // tokens per forward pass in eval()
  int threads() const;
  void reset();
  // Forgets the positions from n on and keeps the cache of the first n tokens, so a benchmark at
  // a filled context (llama-bench -d) fills it once, not before every repetition.
  void truncate(int n);
  // Bytes create() would allocate for this model and these options (KV cache, activations,
  // logits), so a caller can check them against the memory available first. n_ctx and n_threads
  // as in SessionOptions, already resolved (> 0). Saturates at UINT64_MAX instead of wrapping
  // (a context of 2^31 tokens of a large model needs more than 2^64 bytes).
  static uint64_t memory_bytes(const ModelConfig& config, int n_ctx, int n_threads,
                               DType cache_type_k = kDefaultCacheType,
                               DType cache_type_v = kDefaultCacheType);
  // The options create() would use: n_ctx 0 becomes min(model context, 4096) and n_threads 0
  // default_thread_count(). Other values are returned as given (create() checks them).
  static SessionOptions resolve(const ModelConfig& config, const SessionOptions& options);
  // Checks resolved options against the model (context and thread ranges); the message names
  // the bad value and, for a context too large, the bytes it would need.
  static Status check_options(const ModelConfig& config, const SessionOptions& resolved);
  const Model& model() const;

 private:
  Session();
  struct State;  // KV cache, scratch and thread pool (src/model/forward.h)
  std::unique_ptr<State> state_;
};

// Default thread count: physical cores available to the process (never more than the CPUs the
// affinity mask allows), so a default run does not oversubscribe.
int default_thread_count();

}  // namespace loam
