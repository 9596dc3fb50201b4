#include "loam/session.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <new>
#include <stdexcept>
#include <set>
#include <string>
#include <utility>

#include "core/memory_budget.h"
#include "core/thread_pool.h"
#include "model/ops.h"

namespace loam {

namespace {

// Tokens run through the network together during prefill. 64 keeps the activations of a
// 7B-shaped model (64 x 11008 floats per FFN buffer) at a few MiB.
constexpr int kMaxBatch = 64;
constexpr int kDefaultCtxCap = 4096;
constexpr int kMaxThreads = 512;
constexpr int kMaxContext = 1 << 20;

int read_int_file(const std::string& path) {
  std::ifstream f(path);
  int v = -1;
  if (f) f >> v;
  return f ? v : -1;
}

// Saturating size arithmetic: the factors come from file values and flags (a context of 2^31
// tokens times 1024 layers times a 2^20-wide KV row overflows 64 bits), and a saturated size is
// simply refused as too large.
uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t add_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

// Elements of each buffer a Session allocates (floats), for create() and memory_bytes() alike.
struct BufferSizes {
  int max_batch;
  uint64_t kv_cache;  // per cache (K or V): [n_layer][n_ctx][kv_dim]
  uint64_t x, xn, q, kv, ff, scores, rope, batch_logits;
  uint64_t total_floats() const {
    uint64_t t = mul_sat(2, kv_cache);
    for (uint64_t part : {x, xn, mul_sat(2, q), mul_sat(2, kv), mul_sat(2, ff), scores,
                          mul_sat(2, rope), batch_logits})
      t = add_sat(t, part);
    return t;
  }
};

BufferSizes buffer_sizes(const ModelConfig& c, int n_ctx, int n_threads) {
  BufferSizes z;
  z.max_batch = std::min(kMaxBatch, n_ctx);
  const uint64_t b = static_cast<uint64_t>(std::max(0, z.max_batch));
  const uint64_t ctx = static_cast<uint64_t>(std::max(0, n_ctx));
  auto u = [](int v) { return static_cast<uint64_t>(std::max(0, v)); };
  const uint64_t q_dim = mul_sat(u(c.n_head), u(c.head_dim));
  const uint64_t kv_dim = mul_sat(u(c.n_head_kv), u(c.head_dim));
  z.kv_cache = mul_sat(mul_sat(u(c.n_layer), ctx), kv_dim);
  z.x = mul_sat(b, u(c.n_embd));
  z.xn = mul_sat(b, std::max(u(c.n_embd), q_dim));
  z.q = mul_sat(b, q_dim);
  z.kv = mul_sat(b, kv_dim);
  z.ff = mul_sat(b, u(c.n_ff));
  z.scores = mul_sat(u(n_threads), ctx);
  z.rope = mul_sat(ctx, u(c.n_rot / 2));
  z.batch_logits = mul_sat(b, u(c.n_vocab));
  return z;
}

}  // namespace

uint64_t Session::memory_bytes(const ModelConfig& config, int n_ctx, int n_threads) {
  // The activation scratch for quantized matmuls (Q8 blocks, about a byte per float of the
  // widest input) is sized on first use; counted here as one more [max_batch][n_ff] of floats.
  const BufferSizes z = buffer_sizes(config, n_ctx, n_threads);
  const uint64_t floats = add_sat(add_sat(z.total_floats(), z.ff),
                                  static_cast<uint64_t>(std::max(0, config.n_vocab)));
  return mul_sat(floats, sizeof(float));
}

SessionOptions Session::resolve(const ModelConfig& config, const SessionOptions& options) {
  SessionOptions r = options;
  if (r.n_ctx == 0)
    r.n_ctx = config.n_ctx_train > 0 ? std::min(config.n_ctx_train, kDefaultCtxCap) : kDefaultCtxCap;
  if (r.n_threads == 0) r.n_threads = default_thread_count();
  return r;
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
  const SessionOptions resolved = resolve(c, options);
  const int n_ctx = resolved.n_ctx;
  if (n_ctx < 0) return Status::error("context size must be positive, got " + std::to_string(n_ctx));
  if (n_ctx > kMaxContext)
    return Status::error("context size " + std::to_string(n_ctx) + " is larger than " +
                         std::to_string(kMaxContext) + " (it would need " +
                         describe_bytes(memory_bytes(c, n_ctx, 1)) + ", " +
                         std::to_string(memory_bytes(c, n_ctx, 1)) + " bytes)");
  const int n_threads = resolved.n_threads;
  if (n_threads < 1 || n_threads > kMaxThreads)
    return Status::error("thread count must be between 1 and " + std::to_string(kMaxThreads) +
                         ", got " + std::to_string(n_threads));
  const BufferSizes z = buffer_sizes(c, n_ctx, n_threads);
  // Only a 32-bit build could get here with sizes that do not fit in memory at all.
  if (memory_bytes(c, n_ctx, n_threads) > std::numeric_limits<size_t>::max() / 2)
    return Status::error("a context of " + std::to_string(n_ctx) + " tokens does not fit in the "
                         "address space");
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
  } catch (const std::exception&) {  // bad_alloc, or length_error for an absurd size
    return Status::error("not enough memory for a context of " + std::to_string(n_ctx) +
                         " tokens (KV cache " + std::to_string(z.kv_cache * 2 * sizeof(float)) +
                         " bytes)");
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
