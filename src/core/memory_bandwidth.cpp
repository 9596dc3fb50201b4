#include "core/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace loam {

namespace {

// 32-byte vectors through GCC's generic vector extension: AVX loads when the CPU has them, two
// SSE loads otherwise; either way load throughput is far above what DRAM delivers.
typedef float v8f __attribute__((vector_size(32), aligned(4)));

// Sums `n_streams` equal parts of [p, p + n) in lockstep. Several streams at once keep more
// cache misses in flight than one: a matrix-vector kernel reading four rows together was
// measured reading faster than a single-stream probe, so the probe must try both.
void sum_streams(const float* p, int64_t n, int n_streams, float out[8]) {
  const int64_t part = n / n_streams / 32 * 32;
  v8f s0 = {}, s1 = {}, s2 = {}, s3 = {};
  for (int64_t i = 0; i < part; i += 32) {
    for (int k = 0; k < n_streams; ++k) {
      const v8f* v = reinterpret_cast<const v8f*>(p + k * part + i);
      s0 += v[0];
      s1 += v[1];
      s2 += v[2];
      s3 += v[3];
    }
  }
  const v8f s = (s0 + s1) + (s2 + s3);
  for (int k = 0; k < 8; ++k) out[k] = s[k];
}

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  BandwidthResult result;
  const size_t n_floats = (bytes / 4096) * 4096 / sizeof(float);
  std::vector<float> buf(n_floats);
  const int n_parts = pool.size();
  // Write every page first so the timed passes do not include page faults.
  pool.run([&](int part, int parts) {
    int64_t b, e;
    ThreadPool::split(static_cast<int64_t>(n_floats), 1024, part, parts, b, e);
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023);
  });
  std::vector<float> sink(static_cast<size_t>(n_parts) * 8);
  // Third pattern: the F32 matrix-vector kernel of the selected ISA streaming the buffer as rows
  // of kRowFloats (it reads four rows at once and prefetches), so the probe is never slower than
  // the best way we know to read memory.
  constexpr int64_t kRowFloats = 4096;
  const int64_t n_rows = static_cast<int64_t>(n_floats) / kRowFloats;
  const TypeKernels& f32 = kernels().weights[static_cast<uint32_t>(DType::F32)];
  std::vector<float> ones(kRowFloats, 1.0f), row_sums(static_cast<size_t>(n_rows));
  for (int pass = 0; pass < passes; ++pass) {
    for (int pattern : {1, 4, 0}) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.run([&](int part, int parts) {
        if (pattern == 0) {
          int64_t b, e;
          ThreadPool::split(n_rows, 16, part, parts, b, e);
          if (e > b)
            f32.gemv(reinterpret_cast<const uint8_t*>(&buf[static_cast<size_t>(b) * kRowFloats]),
                     kRowFloats * sizeof(float), e - b, ones.data(), kRowFloats, &row_sums[b]);
          return;
        }
        int64_t b, e;
        ThreadPool::split(static_cast<int64_t>(n_floats), 1024, part, parts, b, e);
        sum_streams(&buf[b], e - b, pattern, &sink[static_cast<size_t>(part) * 8]);
      });
      const double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      result.read_gbs = std::max(result.read_gbs, n_floats * sizeof(float) / dt / 1e9);
    }
  }
  volatile float keep = sink[0];
  (void)keep;
  result.bytes = n_floats * sizeof(float);
  return result;
}

}  // namespace loam
