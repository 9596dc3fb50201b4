#include "core/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace loam {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// About 50-100 microseconds of spinning: longer than the gap between two parallel sections of a
// decode step, far shorter than the pause between tokens a user would notice as CPU burn.
constexpr int kSpinIterations = 20000;
// Then a few scheduler yields before sleeping on the condition variable.
constexpr int kYieldIterations = 64;

constexpr int kCountBits = 20;
constexpr int64_t kMaxChunks = (int64_t{1} << kCountBits) - 1;

inline uint32_t generation_of(uint64_t claim) { return static_cast<uint32_t>(claim >> (2 * kCountBits)); }
inline uint64_t make_claim(uint32_t generation, int64_t count) {
  return (static_cast<uint64_t>(generation & 0xffffffu) << (2 * kCountBits)) |
         (static_cast<uint64_t>(count) << kCountBits);
}

constexpr int kShareBits = 24;  // > kCountBits: a share holds chunk indices below kMaxChunks
constexpr uint64_t kShareMask = (uint64_t{1} << kShareBits) - 1;
inline uint32_t share_generation(uint64_t w) { return static_cast<uint32_t>(w >> (2 * kShareBits)); }
inline int64_t share_next(uint64_t w) { return static_cast<int64_t>((w >> kShareBits) & kShareMask); }
inline int64_t share_end(uint64_t w) { return static_cast<int64_t>(w & kShareMask); }
inline uint64_t make_share(uint32_t generation, int64_t next, int64_t end) {
  return (static_cast<uint64_t>(generation & 0xffffu) << (2 * kShareBits)) |
         (static_cast<uint64_t>(next) << kShareBits) | static_cast<uint64_t>(end);
}

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads), shares_(new Share[static_cast<size_t>(n_threads_)]) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    claim_.store(make_claim(generation_of(claim_.load()) + 1, 0), std::memory_order_seq_cst);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::work_on(uint32_t generation, int thread_index) {
  const uint32_t g = generation & 0xffffu;
  // k = 0: this thread's own share, from the front; then the others', from the back.
  for (int k = 0; k < n_threads_; ++k) {
    std::atomic<uint64_t>& share = shares_[(thread_index + k) % n_threads_].word;
    uint64_t cur = share.load(std::memory_order_acquire);
    for (;;) {
      if (share_generation(cur) != g) return;  // a newer job: this one is finished
      const int64_t next = share_next(cur), end = share_end(cur);
      if (next >= end) break;
      const int64_t chunk = k == 0 ? next : end - 1;
      const uint64_t rest = k == 0 ? make_share(g, next + 1, end) : make_share(g, next, end - 1);
      if (!share.compare_exchange_weak(cur, rest, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        continue;  // cur was reloaded
      (*task_)(chunk, thread_index);
      done_.fetch_add(1, std::memory_order_acq_rel);
      cur = share.load(std::memory_order_acquire);
    }
  }
}

void ThreadPool::parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn) {
  if (n_chunks <= 0) return;
  if (n_threads_ == 1 || n_chunks == 1) {
    for (int64_t c = 0; c < n_chunks; ++c) fn(c, 0);
    return;
  }
  if (n_chunks > kMaxChunks) {
    for (int64_t first = 0; first < n_chunks; first += kMaxChunks) {
      const int64_t count = std::min(kMaxChunks, n_chunks - first);
      parallel_for(count, [&fn, first](int64_t c, int t) { fn(first + c, t); });
    }
    return;
  }
  task_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t generation = (generation_of(claim_.load(std::memory_order_relaxed)) + 1) & 0xffffffu;
  for (int t = 0; t < n_threads_; ++t) {
    int64_t begin, end;
    split(n_chunks, 1, t, n_threads_, begin, end);
    // Release: a thread still looking at the previous job's shares sees task_ with the new word.
    shares_[t].word.store(make_share(generation, begin, end), std::memory_order_release);
  }
  claim_.store(make_claim(generation, n_chunks), std::memory_order_seq_cst);
  // seq_cst store above / load here pair with the sleeper's increment and re-check under the
  // lock: either we see the sleeper and notify, or it sees the new generation and never sleeps.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
  }
  work_on(generation, 0);
  // Spin, then yield: a worker still finishing a chunk may be off-CPU, and spinning only keeps it
  // from getting the core back.
  for (int spin = 0; done_.load(std::memory_order_acquire) != n_chunks; ++spin) {
    if (spin < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  const int n = n_threads_;
  parallel_for(n, [&fn, n](int64_t part, int) { fn(static_cast<int>(part), n); });
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen = generation_of(claim_.load(std::memory_order_acquire));
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      cpu_relax();
      gen = generation_of(claim_.load(std::memory_order_acquire));
    }
    for (int y = 0; gen == seen && y < kYieldIterations; ++y) {
      std::this_thread::yield();
      gen = generation_of(claim_.load(std::memory_order_acquire));
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] { return generation_of(claim_.load(std::memory_order_seq_cst)) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      gen = generation_of(claim_.load(std::memory_order_acquire));
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    work_on(gen, index);
  }
}

void ThreadPool::split(int64_t n, int64_t align, int index, int n_parts, int64_t& begin,
                       int64_t& end) {
  if (align < 1) align = 1;
  const int64_t units = (n + align - 1) / align;
  const int64_t per = units / n_parts, extra = units % n_parts;
  const int64_t first = index * per + (index < extra ? index : extra);
  const int64_t count = per + (index < extra ? 1 : 0);
  begin = first * align;
  end = (first + count) * align;
  if (begin > n) begin = n;
  if (end > n) end = n;
}

}  // namespace loam
