// Several sequences decoded together over one shared Model: each sequence has its own KV cache and
// position, and one step() runs the tokens of all of them through the network at once, so each
// weight is read once per step for every sequence (batched decode, continuous batching).
//
// A sequence's logits never depend on which other sequences share its steps, on how its prompt
// is split into chunks, or on the thread count: every matmul kernel gives each token the same
// result it gives that token alone, and attention for a token reads only its own sequence's cache.
// So a sequence run here gives the bytes a Session running it alone gives.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loam/model.h"
#include "loam/session.h"
#include "loam/status.h"

namespace loam {

class MultiSession {
 public:
  // Tokens appended to one sequence in a step: tokens[0..n) go to positions position(seq)...
  struct Chunk {
    int seq = 0;
    const int32_t* tokens = nullptr;
    int n = 0;
  };

  // n_seqs sequences, each with a context of options.n_ctx tokens (0: as Session). The thread
  // pool, scratch and rope tables are shared; only the KV caches are per sequence.
  static Status create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       int n_seqs, std::unique_ptr<MultiSession>& out);
  // Bytes create() would allocate (n_ctx, n_threads resolved as in Session::resolve). Saturates.
  static uint64_t memory_bytes(const ModelConfig& config, int n_ctx, int n_threads, int n_seqs,
                               DType cache_type_k = kDefaultCacheType,
                               DType cache_type_v = kDefaultCacheType);
  ~MultiSession();

  // Runs all chunks in one forward step (split into several when they hold more than
  // max_tokens_per_step() tokens; results are the same either way). At most one chunk per
  // sequence. Afterwards logits(i) is the row after the last token of chunks[i].
  // Fails, changing nothing, on a bad sequence index, a repeated sequence, an empty chunk, a token
  // id outside the vocabulary or tokens that do not fit in that sequence's context.
  Status step(const std::vector<Chunk>& chunks);
  const float* logits(int chunk_index) const;  // [n_vocab] f32

  int sequences() const;
  int position(int seq) const;
  int context_length() const;
  int max_tokens_per_step() const;
  int threads() const;
  void reset(int seq);  // forget the sequence's tokens (position 0)
  const Model& model() const;

 private:
  MultiSession() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loam
