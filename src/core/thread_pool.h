// A persistent pool of worker threads for the forward pass.
//
// Work is cut into chunks that threads claim one at a time from a shared counter, so a thread
// that loses its core (a busy laptop, an oversubscribed CI machine) delays nothing: the others
// take the remaining chunks. Each chunk is computed the same way whichever thread runs it, so
// results never depend on the thread count or on scheduling.
//
// Workers spin briefly, then yield, then sleep: decode issues a few hundred short parallel
// sections per token and a condition-variable wake-up for each would cost more than the work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace loam {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(chunk, thread_index) once for every chunk in [0, n_chunks), spread over the pool;
  // the caller's thread takes part as thread 0. Returns when every chunk is done.
  void parallel_for(int64_t n_chunks, const std::function<void(int64_t, int)>& fn);

  // Calls fn(part, n_threads) for part = 0 .. n_threads-1 (each part once, on whichever thread
  // claims it), for work that is split into one part per thread.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into n_parts contiguous ranges whose starts are multiples of `align` and
  // returns range `index`.
  static void split(int64_t n, int64_t align, int index, int n_parts, int64_t& begin,
                    int64_t& end);

 private:
  void worker_loop(int index);
  // Claims and runs chunks of the job published as `generation` until none are left.
  void work_on(uint32_t generation, int thread_index);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job. Written by the caller only while no chunk of it can be claimed: before it
  // publishes the job's generation, and after every chunk of the previous job is done.
  const std::function<void(int64_t, int)>* task_ = nullptr;
  // [generation:24][chunk count:20][next chunk:20]. One word, so a thread holding an old
  // generation can never claim a chunk of a newer job, nor misread its size.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace loam
