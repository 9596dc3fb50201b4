// A persistent pool of worker threads for the forward pass. run() hands the same function to
// every thread and returns when all are done; the caller's thread takes part as index 0.
// Workers spin briefly before sleeping, because decode issues a few hundred short parallel
// sections per token and a condition-variable wake-up per section would cost more than the work.
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

  // Calls fn(thread_index, n_threads) on every thread; returns when all calls have returned.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into n_threads contiguous ranges whose starts are multiples of `align` and
  // returns thread `index`'s range. Work split by output rows keeps results independent of the
  // thread count.
  static void split(int64_t n, int64_t align, int index, int n_threads, int64_t& begin,
                    int64_t& end);

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace loam
