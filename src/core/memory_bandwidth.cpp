#include "core/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace loam {

namespace {

// 32-byte vectors through GCC's generic vector extension: AVX loads when the CPU has them, two
// SSE loads otherwise; either way load throughput is far above what DRAM delivers.
typedef float v8f __attribute__((vector_size(32), aligned(4)));

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  BandwidthResult result;
  const size_t n_floats = (bytes / 4096) * 4096 / sizeof(float);
  std::vector<float> buf(n_floats);
  // Write every page first (first touch by the thread that will read it is not needed: one
  // NUMA node here), so the measurement does not include page faults.
  pool.run([&](int ti, int nt) {
    int64_t b, e;
    ThreadPool::split(static_cast<int64_t>(n_floats), 1024, ti, nt, b, e);
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023);
  });
  std::vector<float> sink(static_cast<size_t>(pool.size()) * 8);
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int ti, int nt) {
      int64_t b, e;
      ThreadPool::split(static_cast<int64_t>(n_floats), 1024, ti, nt, b, e);
      v8f s0 = {}, s1 = {}, s2 = {}, s3 = {};
      for (int64_t i = b; i + 32 <= e; i += 32) {
        const v8f* v = reinterpret_cast<const v8f*>(&buf[i]);
        s0 += v[0];
        s1 += v[1];
        s2 += v[2];
        s3 += v[3];
      }
      const v8f s = (s0 + s1) + (s2 + s3);
      for (int k = 0; k < 8; ++k) sink[static_cast<size_t>(ti) * 8 + k] = s[k];
    });
    const double dt =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.read_gbs = std::max(result.read_gbs, n_floats * sizeof(float) / dt / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  result.bytes = n_floats * sizeof(float);
  return result;
}

}  // namespace loam
