#include "loam/session.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
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
#include "model/forward.h"

namespace loam {

namespace {

constexpr int kDefaultCtxCap = 4096;
constexpr int kMaxThreads = 512;
constexpr int kMaxContext = 1 << 20;

int read_int_file(const std::string& path) {
  std::ifstream f(path);
  int v = -1;
  if (f) f >> v;
  return f ? v : -1;
}

uint64_t add_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

uint64_t Session::memory_bytes(const ModelConfig& config, int n_ctx, int n_threads, DType type_k,
                               DType type_v) {
  // The scratch, one KV cache, and the last-token logits row.
  return add_sat(add_sat(forward_buffer_bytes(config, n_ctx, n_threads),
                         kv_cache_bytes(config, n_ctx, type_k, type_v)),
                 static_cast<uint64_t>(std::max(0, config.n_vocab)) * sizeof(float));
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

struct Session::State {
  std::shared_ptr<const Model> model;
  std::unique_ptr<ThreadPool> pool;
  ForwardBuffers buffers;
  KvCache cache;
  std::vector<float> logits;  // [n_vocab] after the last token
  std::vector<ForwardToken> step;  // [max_batch] the tokens of one forward step
  std::vector<int> out_rows;       // [max_batch]
};

Session::Session() : state_(new State()) {}
Session::~Session() = default;

int Session::threads() const { return state_->pool ? state_->pool->size() : 1; }
const float* Session::logits() const { return state_->logits.data(); }
int Session::position() const { return state_->cache.n_past; }
int Session::context_length() const { return state_->cache.n_ctx; }
int Session::max_batch() const { return state_->buffers.max_batch; }
void Session::reset() { state_->cache.n_past = 0; }
void Session::truncate(int n) {
  if (n >= 0 && n < state_->cache.n_past) state_->cache.n_past = n;
}
const Model& Session::model() const { return *state_->model; }

Status Session::check_options(const ModelConfig& c, const SessionOptions& resolved) {
  const int n_ctx = resolved.n_ctx;
  if (n_ctx <= 0) return Status::error("context size must be positive, got " + std::to_string(n_ctx));
  if (n_ctx > kMaxContext)
    return Status::error("context size " + std::to_string(n_ctx) + " is larger than " +
                         std::to_string(kMaxContext) + " (it would need " +
                         describe_bytes(memory_bytes(c, n_ctx, 1, resolved.cache_type_k,
                                                     resolved.cache_type_v)) + ", " +
                         std::to_string(memory_bytes(c, n_ctx, 1, resolved.cache_type_k,
                                                     resolved.cache_type_v)) + " bytes)");
  const int n_threads = resolved.n_threads;
  if (n_threads < 1 || n_threads > kMaxThreads)
    return Status::error("thread count must be between 1 and " + std::to_string(kMaxThreads) +
                         ", got " + std::to_string(n_threads));
  // Only a 32-bit build could get here with sizes that do not fit in memory at all.
  if (Status st = check_kv_cache_type(c, resolved.cache_type_k, "key"); !st) return st;
  if (Status st = check_kv_cache_type(c, resolved.cache_type_v, "value"); !st) return st;
  if (memory_bytes(c, n_ctx, n_threads, resolved.cache_type_k, resolved.cache_type_v) >
      std::numeric_limits<size_t>::max() / 2)
    return Status::error("a context of " + std::to_string(n_ctx) + " tokens does not fit in the "
                         "address space");
  return Status::ok();
}

Status Session::create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       std::unique_ptr<Session>& out) {
  if (!model) return Status::error("no model");
  const ModelConfig& c = model->config;
  const SessionOptions resolved = resolve(c, options);
  if (Status st = check_options(c, resolved); !st) return st;
  std::unique_ptr<Session> s(new Session());
  State& z = *s->state_;
  if (Status st = allocate_forward_buffers(*model, resolved.n_ctx, resolved.n_threads, z.buffers); !st)
    return st;
  if (Status st = allocate_kv_cache(c, resolved.n_ctx, resolved.cache_type_k,
                                    resolved.cache_type_v, z.cache);
      !st)
    return st;
  try {
    z.logits.assign(c.n_vocab, 0.0f);
    z.step.resize(z.buffers.max_batch);
    z.out_rows.resize(z.buffers.max_batch);
  } catch (const std::exception&) {
    return Status::error("not enough memory for the logits of a " + std::to_string(c.n_vocab) +
                         "-token vocabulary");
  }
  z.model = std::move(model);
  z.pool.reset(new ThreadPool(resolved.n_threads));
  out = std::move(s);
  return Status::ok();
}

Status Session::eval(const int32_t* tokens, int n_tokens, std::vector<float>* all_logits) {
  State& z = *state_;
  const int n_past = z.cache.n_past, n_ctx = z.cache.n_ctx;
  if (n_tokens <= 0) return Status::error("nothing to evaluate: no tokens");
  if (static_cast<int64_t>(n_past) + n_tokens > n_ctx)
    return Status::error(std::to_string(n_tokens) + " tokens do not fit in the context: " +
                         std::to_string(n_past) + " of " + std::to_string(n_ctx) +
                         " positions used (raise -c / --ctx-size)");
  const int n_vocab = z.model->config.n_vocab;
  for (int i = 0; i < n_tokens; ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      return Status::error("token id " + std::to_string(tokens[i]) + " is outside the vocabulary (0.." +
                           std::to_string(n_vocab - 1) + ")");
  }
  if (all_logits) all_logits->resize(static_cast<size_t>(n_tokens) * n_vocab);
  const size_t row_bytes = static_cast<size_t>(n_vocab) * sizeof(float);
  for (int done = 0; done < n_tokens;) {
    const int n = std::min(z.buffers.max_batch, n_tokens - done);
    for (int t = 0; t < n; ++t) z.step[t] = {tokens[done + t], z.cache.n_past + t, &z.cache};
    // Logits for every row when the caller wants them all, else only for the last token.
    const bool last_chunk = done + n == n_tokens;
    int n_out = 0;
    float* dst = z.buffers.out_logits.data();
    if (all_logits) {
      for (int t = 0; t < n; ++t) z.out_rows[n_out++] = t;
      dst = all_logits->data() + static_cast<size_t>(done) * n_vocab;
    } else if (last_chunk) {
      z.out_rows[n_out++] = n - 1;
    }
    llama_forward(*z.model, z.step.data(), n, z.out_rows.data(), n_out, dst, z.buffers, *z.pool);
    z.cache.n_past += n;
    if (last_chunk) std::memcpy(z.logits.data(), dst + static_cast<size_t>(n_out - 1) * n_vocab, row_bytes);
    done += n;
  }
  return Status::ok();
}

}  // namespace loam
