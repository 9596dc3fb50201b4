// Decode speed against the machine's memory read bandwidth, both measured in the same run with
// the same number of threads:
//   bench_decode -m FILE [-t THREADS] [-n TOKENS] [-p PROMPT_TOKENS] [--reps R] [--bw-mib MIB]
// Decode reads every weight once per token, so tokens/s x weight bytes per token is the bandwidth
// it achieves; the table shows that as a fraction of plain read bandwidth. Bandwidth on this
// machine varies a lot between runs (33 to 71 GB/s, docs/PERFORMANCE.md), so a bandwidth
// measurement precedes every decode repetition and the best one is used.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/kernels.h"
#include "loam/model.h"
#include "loam/session.h"

using namespace loam;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Sums [begin, end) of the buffer with the widest loads this build has, 4 independent
// accumulators so the adds never limit the load rate. Returns a value the caller keeps so the
// compiler cannot drop the loop.
uint64_t sum_range(const uint8_t* begin, const uint8_t* end) {
#if defined(__AVX512F__)
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (const uint8_t* p = begin; p + 256 <= end; p += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(reinterpret_cast<const void*>(p)));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(reinterpret_cast<const void*>(p + 64)));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(reinterpret_cast<const void*>(p + 128)));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(reinterpret_cast<const void*>(p + 192)));
  }
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3))));
#elif defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (const uint8_t* p = begin; p + 128 <= end; p += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t lanes[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
  uint64_t s[4] = {0, 0, 0, 0};
  for (const uint8_t* p = begin; p + 32 <= end; p += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t v;
      std::memcpy(&v, p + 8 * k, 8);
      s[k] += v;
    }
  return s[0] + s[1] + s[2] + s[3];
#endif
}

// Best read bandwidth (GB/s) over `passes` passes, each of `n_threads` std::threads summing a
// disjoint part of `buf`. Threads are started before the clock and released together, so thread
// creation is not timed.
double read_bandwidth(const uint8_t* buf, size_t bytes, int n_threads, int passes) {
  double best = 0;
  std::atomic<uint64_t> sink{0};
  for (int pass = 0; pass < passes; ++pass) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    const size_t part = bytes / n_threads / 4096 * 4096;  // page-aligned parts
    for (int t = 0; t < n_threads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        sink.fetch_add(sum_range(buf + t * part, buf + (t + 1) * part));
      });
    }
    while (ready.load() < n_threads) std::this_thread::yield();
    const auto t0 = Clock::now();
    go.store(true, std::memory_order_release);
    for (std::thread& th : threads) th.join();
    const double dt = seconds_since(t0);
    best = std::max(best, static_cast<double>(part) * n_threads / dt / 1e9);
  }
  if (sink.load() == 42) std::fprintf(stderr, " ");  // keeps the sums observable
  return best;
}

// Bytes of weights one decode step reads: every matmul weight, the output matrix (the token
// embedding when tied) and one embedding row.
size_t weight_bytes_per_token(const Model& m) {
  size_t total = m.output.nbytes + m.tok_embd.row_bytes();
  for (const LayerWeights& l : m.layers)
    total += l.wq.nbytes + l.wk.nbytes + l.wv.nbytes + l.wo.nbytes + l.ffn_gate.nbytes +
             l.ffn_up.nbytes + l.ffn_down.nbytes;
  return total;
}

int argmax(const float* x, int n) {
  return static_cast<int>(std::max_element(x, x + n) - x);
}

void usage() {
  std::fprintf(stderr,
               "usage: bench_decode -m FILE [-t THREADS] [-n TOKENS] [-p PROMPT_TOKENS] [--reps R]\n"
               "                    [--bw-mib MIB]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int n_threads = 2, n_gen = 64, n_prompt = 16, reps = 3;
  size_t bw_mib = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "-m" && v) path = argv[++i];
    else if (a == "-t" && v) n_threads = std::atoi(argv[++i]);
    else if (a == "-n" && v) n_gen = std::atoi(argv[++i]);
    else if (a == "-p" && v) n_prompt = std::atoi(argv[++i]);
    else if (a == "--reps" && v) reps = std::atoi(argv[++i]);
    else if (a == "--bw-mib" && v) bw_mib = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "-h" || a == "--help") { usage(); return 0; }
    else { std::fprintf(stderr, "bench_decode: unknown or incomplete argument '%s'\n", a.c_str()); usage(); return 2; }
  }
  if (path.empty() || n_threads < 1 || n_gen < 1 || n_prompt < 1 || reps < 1 || bw_mib < 64) {
    usage();
    return 2;
  }

  auto model = std::make_shared<Model>();
  const auto t_load = Clock::now();
  Status st = load_model(path, {}, *model);
  if (!st) {
    std::fprintf(stderr, "bench_decode: %s\n", st.message().c_str());
    return 1;
  }
  const double load_s = seconds_since(t_load);
  const ModelConfig& c = model->config;
  SessionOptions so;
  so.n_threads = n_threads;
  so.n_ctx = std::min(c.n_ctx_train > 0 ? c.n_ctx_train : 4096, n_prompt + n_gen + 8);
  if (n_prompt + n_gen > so.n_ctx) {
    std::fprintf(stderr, "bench_decode: %d prompt + %d generated tokens exceed the context %d\n",
                 n_prompt, n_gen, so.n_ctx);
    return 1;
  }
  std::unique_ptr<Session> session;
  st = Session::create(model, so, session);
  if (!st) {
    std::fprintf(stderr, "bench_decode: %s\n", st.message().c_str());
    return 1;
  }
  std::vector<int32_t> prompt(n_prompt);
  for (int i = 0; i < n_prompt; ++i) prompt[i] = (i == 0) ? model->vocab.bos_id : (97 * i + 13) % c.n_vocab;
  if (prompt[0] < 0 || prompt[0] >= c.n_vocab) prompt[0] = 1 % c.n_vocab;

  // The bandwidth buffer, written once so its pages exist before it is timed.
  const size_t bw_bytes = bw_mib << 20;
  uint8_t* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, bw_bytes));
  if (!buf) {
    std::fprintf(stderr, "bench_decode: cannot allocate %zu MiB\n", bw_mib);
    return 1;
  }
  std::memset(buf, 1, bw_bytes);

  // Warm-up: faults in the weight mapping (page cache) and the session's buffers.
  auto run_rep = [&](int n_tokens, double& prompt_s, double& decode_s) -> bool {
    session->reset();
    auto t0 = Clock::now();
    if (!session->eval(prompt)) return false;
    prompt_s = seconds_since(t0);
    int32_t tok = argmax(session->logits(), c.n_vocab);
    t0 = Clock::now();
    for (int i = 0; i < n_tokens; ++i) {
      if (!session->eval(&tok, 1)) return false;
      tok = argmax(session->logits(), c.n_vocab);
    }
    decode_s = seconds_since(t0);
    return true;
  };
  double prompt_s = 0, decode_s = 0;
  if (!run_rep(std::min(n_gen, 4), prompt_s, decode_s)) {
    std::fprintf(stderr, "bench_decode: eval failed\n");
    return 1;
  }

  std::vector<double> tps, pps, bws;
  for (int r = 0; r < reps; ++r) {
    bws.push_back(read_bandwidth(buf, bw_bytes, n_threads, 3));
    if (!run_rep(n_gen, prompt_s, decode_s)) {
      std::fprintf(stderr, "bench_decode: eval failed\n");
      return 1;
    }
    tps.push_back(n_gen / decode_s);
    pps.push_back(n_prompt / prompt_s);
  }
  bws.push_back(read_bandwidth(buf, bw_bytes, n_threads, 3));
  std::free(buf);

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  const double tok_s = median(tps), bw = *std::max_element(bws.begin(), bws.end());
  const double bw_min = *std::min_element(bws.begin(), bws.end());
  const size_t wbytes = weight_bytes_per_token(*model);
  const double achieved = tok_s * wbytes / 1e9;

  const Tensor& w0 = model->layers.empty() ? model->tok_embd : model->layers[0].wq;
  std::printf("| item | value |\n|---|---|\n");
  std::printf("| model | %s (%s, dim %d, %d layers, %d/%d heads, ffn %d, vocab %d) |\n",
              path.c_str(), dtype_name(w0.type), c.n_embd, c.n_layer, c.n_head, c.n_head_kv,
              c.n_ff, c.n_vocab);
  std::printf("| threads / kernels | %d / %s |\n", session->threads(), kernels().isa);
  std::printf("| load time | %.2f s |\n", load_s);
  std::printf("| weights read per token | %.1f MB (%.3f GiB) |\n", wbytes / 1e6,
              wbytes / 1073741824.0);
  std::printf("| read bandwidth (%zu MiB, best of %zu x 3 passes) | %.1f GB/s (worst set %.1f) |\n",
              bw_mib, bws.size(), bw, bw_min);
  std::printf("| prompt (%d tokens, median of %d) | %.2f tok/s |\n", n_prompt, reps, median(pps));
  std::printf("| decode (%d tokens, median of %d) | %.2f tok/s (min %.2f, max %.2f) |\n", n_gen,
              reps, tok_s, *std::min_element(tps.begin(), tps.end()),
              *std::max_element(tps.begin(), tps.end()));
  std::printf("| achieved weight bandwidth | %.1f GB/s |\n", achieved);
  std::printf("| fraction of read bandwidth | %.1f %% |\n", 100.0 * achieved / bw);
  return 0;
}
