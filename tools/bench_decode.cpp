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

#include "core/memory_bandwidth.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "loam/model.h"
#include "loam/session.h"

using namespace loam;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
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
               "                    [--bw-mib MIB] [--no-repack]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int n_threads = 2, n_gen = 64, n_prompt = 16, reps = 3;
  size_t bw_mib = 1024;
  LoadOptions load_options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool v = i + 1 < argc;
    if (a == "-m" && v) path = argv[++i];
    else if (a == "-t" && v) n_threads = std::atoi(argv[++i]);
    else if (a == "-n" && v) n_gen = std::atoi(argv[++i]);
    else if (a == "-p" && v) n_prompt = std::atoi(argv[++i]);
    else if (a == "--reps" && v) reps = std::atoi(argv[++i]);
    else if (a == "--bw-mib" && v) bw_mib = std::strtoul(argv[++i], nullptr, 10);
    else if (a == "--no-repack") load_options.interleave = false;
    else if (a == "-h" || a == "--help") { usage(); return 0; }
    else { std::fprintf(stderr, "bench_decode: unknown or incomplete argument '%s'\n", a.c_str()); usage(); return 2; }
  }
  if (path.empty() || n_threads < 1 || n_gen < 1 || n_prompt < 1 || reps < 1 || bw_mib < 64) {
    usage();
    return 2;
  }

  auto model = std::make_shared<Model>();
  const auto t_load = Clock::now();
  Status st = load_model(path, load_options, *model);
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

  // Bandwidth is probed with the same number of threads as decode, before every repetition.
  const size_t bw_bytes = bw_mib << 20;
  ThreadPool bw_pool(n_threads);
  auto read_bandwidth = [&] { return measure_read_bandwidth(bw_pool, bw_bytes, 3).read_gbs; };

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
    bws.push_back(read_bandwidth());
    if (!run_rep(n_gen, prompt_s, decode_s)) {
      std::fprintf(stderr, "bench_decode: eval failed\n");
      return 1;
    }
    tps.push_back(n_gen / decode_s);
    pps.push_back(n_prompt / prompt_s);
  }
  bws.push_back(read_bandwidth());

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
  std::printf("| load time | %.2f s (%.0f MiB repacked) |\n", load_s,
              static_cast<double>(model->interleaved_bytes) / (1 << 20));
  std::printf("| weights read per token | %.1f MB (%.3f GiB) |\n", wbytes / 1e6,
              wbytes / 1073741824.0);
  std::printf("| read bandwidth (%zu MiB, best of %zu x 3 passes x 3 patterns) | %.1f GB/s (worst set %.1f) |\n",
              bw_mib, bws.size(), bw, bw_min);
  std::printf("| prompt (%d tokens, median of %d) | %.2f tok/s |\n", n_prompt, reps, median(pps));
  std::printf("| decode (%d tokens, median of %d) | %.2f tok/s (min %.2f, max %.2f) |\n", n_gen,
              reps, tok_s, *std::min_element(tps.begin(), tps.end()),
              *std::max_element(tps.begin(), tps.end()));
  std::printf("| achieved weight bandwidth | %.1f GB/s |\n", achieved);
  std::printf("| fraction of read bandwidth | %.1f %% |\n", 100.0 * achieved / bw);
  return 0;
}
