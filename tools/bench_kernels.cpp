// Measures matrix-vector kernel throughput against plain memory read bandwidth, both with the
// same thread pool, in the same run:  bench_kernels [-t THREADS] [--mib SIZE] [--isa NAME]
// Prints GB/s of weights streamed per kernel and the fraction of read bandwidth it reaches.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/memory_bandwidth.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "loam/session.h"

using namespace loam;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = default_thread_count();
  size_t mib = 1024;
  std::string isa;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-t" || a == "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--mib" && i + 1 < argc) mib = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--isa" && i + 1 < argc) isa = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_kernels [-t THREADS] [--mib SIZE] [--isa NAME]\n");
      return 2;
    }
  }
  if (Status s = select_kernels(isa); !s) {
    std::fprintf(stderr, "bench_kernels: %s\n", s.message().c_str());
    return 1;
  }
  const KernelTable& kt = kernels();
  ThreadPool pool(threads);
  const size_t bytes = mib << 20;
  std::vector<uint64_t> buf(bytes / 8);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  const double bw = measure_read_bandwidth(pool, bytes, 5).read_gbs;
  std::printf("isa %s, %d threads, %zu MiB\nread bandwidth: %.1f GB/s\n", kt.isa, threads, mib, bw);
  std::printf("%-6s %10s %10s %8s\n", "type", "ms/pass", "GB/s", "of bw");
  const int64_t cols = 2048;
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K,
                     DType::Q5_K, DType::Q6_K}) {
    const TypeKernels& tk = kt.weights[static_cast<uint32_t>(type)];
    if (!tk.gemv) continue;
    const size_t rb = dtype_row_bytes(type, cols);
    const int64_t rows = static_cast<int64_t>(bytes / rb);
    // The buffer holds arbitrary bits; for float types that may include NaNs, which cost the
    // same to multiply. Quantized types read scales from the same bits, which is equally fine.
    const uint8_t* w = reinterpret_cast<const uint8_t*>(buf.data());
    std::vector<float> x(cols, 0.01f), y(rows);
    std::vector<uint8_t> xq(act_row_bytes(tk.act_type, cols) + 64);
    const void* xp = x.data();
    if (tk.act_type != DType::F32) {
      kt.quantize_act[static_cast<uint32_t>(tk.act_type)](x.data(), xq.data(), cols);
      xp = xq.data();
    }
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
      const double t0 = now_s();
      pool.run([&](int ti, int nt) {
        int64_t b, e;
        ThreadPool::split(rows, 16, ti, nt, b, e);
        if (e > b) tk.gemv(w + b * rb, rb, e - b, xp, cols, y.data() + b);
      });
      best = std::min(best, now_s() - t0);
    }
    const double gbs = rows * rb / best / 1e9;
    std::printf("%-6s %10.2f %10.1f %7.0f%%\n", dtype_name(type), best * 1e3, gbs, 100 * gbs / bw);
  }
  return 0;
}
