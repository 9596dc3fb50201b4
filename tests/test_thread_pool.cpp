// The thread pool: every chunk of every job runs exactly once, for any thread count and chunk
// count (including more chunks than one job word holds, and more jobs than the 16-bit generation
// in a thread's share counts before it wraps), each thread starts with its own contiguous share,
// and a thread that stalls has its chunks taken by the others.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "harness/test.h"

using loam::ThreadPool;

namespace {

// Runs one job of n chunks and checks each ran once.
void check_once(ThreadPool& pool, int64_t n) {
  std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[static_cast<size_t>(n > 0 ? n : 1)]);
  for (int64_t i = 0; i < n; ++i) runs[i].store(0);
  pool.parallel_for(n, [&](int64_t c, int t) {
    if (c >= 0 && c < n && t >= 0 && t < pool.size()) runs[c].fetch_add(1);
  });
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) wrong += runs[i].load() == 1 ? 0 : 1;
  if (wrong != 0)
    ::loam_test::record_failure(__FILE__, __LINE__, std::to_string(wrong) + " of " +
                                std::to_string(n) + " chunks did not run exactly once with " +
                                std::to_string(pool.size()) + " threads");
}

}  // namespace

TEST_CASE("every chunk runs exactly once, for 1 to 5 threads and 0 to 5000 chunks") {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 64, 5000}) check_once(pool, n);
  }
}

TEST_CASE("more chunks than one job holds (2^20 + 3) still run exactly once") {
  ThreadPool pool(2);
  check_once(pool, (int64_t{1} << 20) + 3);
}

TEST_CASE("70000 jobs in a row (past the share generation's wrap at 65536)") {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int j = 0; j < 70000; ++j) pool.parallel_for(3, [&](int64_t c, int) { total += c + 1; });
  CHECK_EQ(total.load(), int64_t{70000} * 6);
}

TEST_CASE("with 2 threads each starts on its own half, front to back") {
  ThreadPool pool(2);
  // Chunks slow enough that both threads are running before either share is used up.
  std::vector<int> first_of(2, -1);
  std::mutex m;
  pool.parallel_for(8, [&](int64_t c, int t) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (first_of[t] < 0) first_of[t] = static_cast<int>(c);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  CHECK_EQ(first_of[0], 0);
  // Thread 1's first chunk is the start of its share (4), unless it woke so late that thread 0
  // had already stolen from the back of it (then it is still a chunk of the second half), or
  // never ran one because it woke after thread 0 had taken everything.
  CHECK(first_of[1] == -1 || first_of[1] >= 4);
}

TEST_CASE("a stalled thread's chunks are taken by the other") {
  ThreadPool pool(2);
  std::atomic<int> by_caller{0};
  pool.parallel_for(20, [&](int64_t, int t) {
    if (t == 0) {
      by_caller.fetch_add(1);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the worker stalls
    }
  });
  // The caller's own share is 10 chunks; it must have stolen some of the worker's.
  CHECK(by_caller.load() > 10);
}
