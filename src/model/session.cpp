#include "loam/session.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <new>
#include <set>
#include <string>
#include <utility>

#include "core/thread_pool.h"
#include "model/ops.h"

namespace loam {

namespace {

// Tokens run through the network together during prefill. 64 keeps the activations of a
// 7B-shaped model (64 x 11008 floats per FFN buffer) at a few MiB.
constexpr int kMaxBatch = 64;
constexpr int kDefaultCtxCap = 4096;
constexpr int kMaxThreads = 512;

int read_int_file(const std::string& path) {
  std::ifstream f(path);
  int v = -1;
  if (f) f >> v;
  return f ? v : -1;
}

// Elements of each buffer a Session allocates (floats), for create() and memory_bytes() alike.
struct BufferSizes {
  int max_batch;
  size_t kv_cache;  // per cache (K or V): [n_layer][n_ctx][kv_dim]
  size_t x, xn, q, kv, ff, scores, rope, batch_logits;
  size_t total_floats() const {
    return 2 * kv_cache + x + xn + 2 * q + 2 * kv + 2 * ff + scores + 2 * rope + batch_logits;
  }
};

BufferSizes buffer_sizes(const ModelConfig& c, int n_ctx, int n_threads) {
  BufferSizes z;
  z.max_batch = std::min(kMaxBatch, n_ctx);
  const size_t b = static_cast<size_t>(z.max_batch);
  const size_t q_dim = static_cast<size_t>(c.n_head) * c.head_dim;
  z.kv_cache = static_cast<size_t>(c.n_layer) * n_ctx * c.kv_dim();
  z.x = b * c.n_embd;
  z.xn = b * std::max<size_t>(c.n_embd, q_dim);
  z.q = b * q_dim;
  z.kv = b * c.kv_dim();
  z.ff = b * c.n_ff;
  z.scores = static_cast<size_t>(n_threads) * n_ctx;
  z.rope = static_cast<size_t>(n_ctx) * (c.n_rot / 2);
  z.batch_logits = b * c.n_vocab;
  return z;
}

}  // namespace

uint64_t Session::memory_bytes(const ModelConfig& config, int n_ctx, int n_threads) {
  // The activation scratch for quantized matmuls (Q8 blocks, about a byte per float of the
  // widest input) is sized on first use; counted here as one more [max_batch][n_ff] of floats.
  const BufferSizes z = buffer_sizes(config, n_ctx, n_threads);
  return (z.total_floats() + z.ff + config.n_vocab) * sizeof(float);
}

int default_thread_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
  }
  // Count distinct physical cores among the CPUs we may run on: SMT siblings share the FMA units
  // and the memory bandwidth, so a thread per sibling only adds contention.
  std::set<std::pair<int, int>> cores;
  int allowed = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    ++allowed;
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const int core = read_int_file(base + "core_id");
    const int pkg = read_int_file(base + "physical_package_id");
    if (core < 0 || pkg < 0) {
      cores.clear();
      break;
    }
    cores.insert({pkg, core});
  }
  const int n = cores.empty() ? allowed : static_cast<int>(cores.size());
  return std::max(1, std::min(n, allowed));
}

Session::~Session() = default;

int Session::threads() const { return pool_ ? pool_->size() : 1; }

Status Session::create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       std::unique_ptr<Session>& out) {
  if (!model) return Status::error("no model");
  const ModelConfig& c = model->config;
  int n_ctx = options.n_ctx;
  if (n_ctx < 0) return Status::error("context size must be positive, got " + std::to_string(n_ctx));
  if (n_ctx == 0) n_ctx = c.n_ctx_train > 0 ? std::min(c.n_ctx_train, kDefaultCtxCap) : kDefaultCtxCap;
  if (n_ctx > (1 << 20))
    return Status::error("context size " + std::to_string(n_ctx) + " is larger than 1048576");
  int n_threads = options.n_threads == 0 ? default_thread_count() : options.n_threads;
  if (n_threads < 1 || n_threads > kMaxThreads)
    return Status::error("thread count must be between 1 and " + std::to_string(kMaxThreads) +
                         ", got " + std::to_string(n_threads));
  const BufferSizes z = buffer_sizes(c, n_ctx, n_threads);
  std::unique_ptr<Session> s(new Session());
  s->model_ = std::move(model);
  s->n_ctx_ = n_ctx;
  s->max_batch_ = z.max_batch;
  try {
    s->k_cache_.assign(z.kv_cache, 0.0f);
    s->v_cache_.assign(z.kv_cache, 0.0f);
    s->x_.resize(z.x);
    s->xn_.resize(z.xn);
    s->q_.resize(z.q);
    s->k_.resize(z.kv);
    s->v_.resize(z.kv);
    s->attn_out_.resize(z.q);
    s->gate_.resize(z.ff);
    s->up_.resize(z.ff);
    s->scores_.resize(z.scores);
    s->rope_cos_.resize(z.rope);
    s->rope_sin_.resize(z.rope);
    s->logits_.assign(c.n_vocab, 0.0f);
    s->batch_logits_.resize(z.batch_logits);
  } catch (const std::bad_alloc&) {
    return Status::error("not enough memory for a context of " + std::to_string(n_ctx) +
                         " tokens (KV cache " +
                         std::to_string(z.kv_cache * 2 * sizeof(float) >> 20) + " MiB)");
  }
  rope_build_cache(s->rope_cos_.data(), s->rope_sin_.data(), n_ctx, c.n_rot, c.rope_freq_base);
  s->pool_.reset(new ThreadPool(n_threads));
  out = std::move(s);
  return Status::ok();
}

Status Session::eval(const int32_t* tokens, int n_tokens, std::vector<float>* all_logits) {
  if (n_tokens <= 0) return Status::error("nothing to evaluate: no tokens");
  if (static_cast<int64_t>(n_past_) + n_tokens > n_ctx_)
    return Status::error(std::to_string(n_tokens) + " tokens do not fit in the context: " +
                         std::to_string(n_past_) + " of " + std::to_string(n_ctx_) +
                         " positions used (raise -c / --ctx-size)");
  const int n_vocab = model_->config.n_vocab;
  for (int i = 0; i < n_tokens; ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      return Status::error("token id " + std::to_string(tokens[i]) + " is outside the vocabulary (0.." +
                           std::to_string(n_vocab - 1) + ")");
  }
  if (all_logits) all_logits->resize(static_cast<size_t>(n_tokens) * n_vocab);
  for (int done = 0; done < n_tokens;) {
    const int n = std::min(max_batch_, n_tokens - done);
    float* dst = all_logits ? all_logits->data() + static_cast<size_t>(done) * n_vocab : nullptr;
    forward_batch(tokens + done, n, dst);
    done += n;
  }
  return Status::ok();
}

}  // namespace loam
