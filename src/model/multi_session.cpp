// MultiSession: one thread pool and one set of forward buffers driving several KV caches. A step
// lays the chunks' tokens out one after another and runs them max_batch at a time through
// llama_forward, asking for logits only at each chunk's last token.
#include "loam/multi_session.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#include "core/thread_pool.h"
#include "model/forward.h"

namespace loam {

namespace {

constexpr int kMaxSequences = 4096;

uint64_t add_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

struct MultiSession::Impl {
  std::shared_ptr<const Model> model;
  std::unique_ptr<ThreadPool> pool;
  ForwardBuffers buffers;
  std::vector<KvCache> caches;        // [n_seqs]
  std::vector<float> logits;          // [n_chunks of the last step][n_vocab]
  std::vector<ForwardToken> tokens;   // every token of a step, chunk after chunk
  std::vector<int> last_of_chunk;     // [n_chunks] index into tokens of each chunk's last token
  std::vector<int> out_rows;          // [max_batch]
  std::vector<int> out_chunk;         // [max_batch] chunk whose logits out row i is
};

MultiSession::~MultiSession() = default;

uint64_t MultiSession::memory_bytes(const ModelConfig& config, int n_ctx, int n_threads, int n_seqs,
                                   DType type_k, DType type_v) {
  const uint64_t seqs = static_cast<uint64_t>(std::max(0, n_seqs));
  uint64_t total = forward_buffer_bytes(config, n_ctx, n_threads);
  total = add_sat(total, mul_sat(seqs, kv_cache_bytes(config, n_ctx, type_k, type_v)));
  // Logits rows: one per chunk, at most one chunk per sequence.
  return add_sat(total, mul_sat(mul_sat(seqs, static_cast<uint64_t>(std::max(0, config.n_vocab))),
                                sizeof(float)));
}

Status MultiSession::create(std::shared_ptr<const Model> model, const SessionOptions& options,
                            int n_seqs, std::unique_ptr<MultiSession>& out) {
  if (!model) return Status::error("no model");
  if (n_seqs < 1 || n_seqs > kMaxSequences)
    return Status::error("the number of parallel sequences must be between 1 and " +
                         std::to_string(kMaxSequences) + ", got " + std::to_string(n_seqs));
  const ModelConfig& c = model->config;
  const SessionOptions resolved = Session::resolve(c, options);
  if (Status st = Session::check_options(c, resolved); !st) return st;
  std::unique_ptr<MultiSession> s(new MultiSession());
  s->impl_.reset(new Impl());
  Impl& z = *s->impl_;
  if (Status st = allocate_forward_buffers(*model, resolved.n_ctx, resolved.n_threads, z.buffers); !st)
    return st;
  try {
    z.caches.resize(n_seqs);
    z.out_rows.resize(z.buffers.max_batch);
    z.out_chunk.resize(z.buffers.max_batch);
  } catch (const std::exception&) {
    return Status::error("not enough memory for " + std::to_string(n_seqs) + " sequences");
  }
  for (KvCache& cache : z.caches)
    if (Status st = allocate_kv_cache(c, resolved.n_ctx, resolved.cache_type_k,
                                      resolved.cache_type_v, cache);
        !st)
      return st;
  z.model = std::move(model);
  z.pool.reset(new ThreadPool(resolved.n_threads));
  out = std::move(s);
  return Status::ok();
}

Status MultiSession::step(const std::vector<Chunk>& chunks) {
  Impl& z = *impl_;
  const int n_seqs = static_cast<int>(z.caches.size());
  const int n_vocab = z.model->config.n_vocab;
  if (chunks.empty()) return Status::error("nothing to evaluate: no chunks");
  // Check everything first, so a bad chunk changes nothing.
  std::vector<char> seen(n_seqs, 0);
  size_t total = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& ch = chunks[i];
    if (ch.seq < 0 || ch.seq >= n_seqs)
      return Status::error("sequence " + std::to_string(ch.seq) + " does not exist (0.." +
                           std::to_string(n_seqs - 1) + ")");
    if (seen[ch.seq]) return Status::error("sequence " + std::to_string(ch.seq) + " appears twice in one step");
    seen[ch.seq] = 1;
    if (ch.n <= 0 || !ch.tokens)
      return Status::error("sequence " + std::to_string(ch.seq) + ": nothing to evaluate: no tokens");
    const KvCache& cache = z.caches[ch.seq];
    if (static_cast<int64_t>(cache.n_past) + ch.n > cache.n_ctx)
      return Status::error("sequence " + std::to_string(ch.seq) + ": " + std::to_string(ch.n) +
                           " tokens do not fit in the context: " + std::to_string(cache.n_past) +
                           " of " + std::to_string(cache.n_ctx) + " positions used");
    for (int t = 0; t < ch.n; ++t)
      if (ch.tokens[t] < 0 || ch.tokens[t] >= n_vocab)
        return Status::error("token id " + std::to_string(ch.tokens[t]) +
                             " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
    total += static_cast<size_t>(ch.n);
  }

  z.tokens.clear();
  z.last_of_chunk.clear();
  z.tokens.reserve(total);
  for (const Chunk& ch : chunks) {
    KvCache* cache = &z.caches[ch.seq];
    for (int t = 0; t < ch.n; ++t) z.tokens.push_back({ch.tokens[t], cache->n_past + t, cache});
    z.last_of_chunk.push_back(static_cast<int>(z.tokens.size()) - 1);
  }
  z.logits.resize(chunks.size() * static_cast<size_t>(n_vocab));

  // Slices of max_batch tokens; a chunk may straddle two (its earlier tokens' keys are in the
  // cache by the time the later ones attend to them).
  const int n_total = static_cast<int>(total);
  size_t next_chunk = 0;
  for (int start = 0; start < n_total; start += z.buffers.max_batch) {
    const int n = std::min(z.buffers.max_batch, n_total - start);
    int n_out = 0;
    while (next_chunk < chunks.size() && z.last_of_chunk[next_chunk] < start + n) {
      z.out_rows[n_out] = z.last_of_chunk[next_chunk] - start;
      z.out_chunk[n_out] = static_cast<int>(next_chunk);
      ++n_out;
      ++next_chunk;
    }
    llama_forward(*z.model, z.tokens.data() + start, n, z.out_rows.data(), n_out,
                  z.buffers.out_logits.data(), z.buffers, *z.pool);
    for (int i = 0; i < n_out; ++i)
      std::memcpy(&z.logits[static_cast<size_t>(z.out_chunk[i]) * n_vocab],
                  &z.buffers.out_logits[static_cast<size_t>(i) * n_vocab], n_vocab * sizeof(float));
  }
  for (const Chunk& ch : chunks) z.caches[ch.seq].n_past += ch.n;
  return Status::ok();
}

const float* MultiSession::logits(int chunk_index) const {
  return &impl_->logits[static_cast<size_t>(chunk_index) * impl_->model->config.n_vocab];
}
int MultiSession::sequences() const { return static_cast<int>(impl_->caches.size()); }
int MultiSession::position(int seq) const { return impl_->caches[seq].n_past; }
int MultiSession::context_length() const { return impl_->buffers.n_ctx; }
int MultiSession::max_tokens_per_step() const { return impl_->buffers.max_batch; }
int MultiSession::threads() const { return impl_->pool->size(); }
void MultiSession::reset(int seq) { impl_->caches[seq].n_past = 0; }
const Model& MultiSession::model() const { return *impl_->model; }

}  // namespace loam
