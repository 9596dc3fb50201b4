// Aggregate decode speed of K sequences sharing each forward step (MultiSession), K = 1, 2, 4, 8:
// the number `loam batch --parallel K` stands on, without tokenizing, sampling or I/O.
//   bench_parallel MODEL.gguf|synthetic:SHAPE:TYPE [n_tokens_per_seq=32] [threads=0] [prompt=16]
// Prints one line per K: generated tokens/s over all sequences (each sequence gets `prompt`
// tokens of prompt first, not timed, then n_tokens decode steps).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "loam/model.h"
#include "loam/multi_session.h"
#include "model/synthetic_model.h"

using namespace loam;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_parallel MODEL|synthetic:SHAPE:TYPE [n] [threads] [prompt]\n");
    return 2;
  }
  const std::string spec = argv[1];
  const int n_gen = argc > 2 ? std::atoi(argv[2]) : 32;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
  const int n_prompt = argc > 4 ? std::atoi(argv[4]) : 16;
  if (Status st = select_kernels(); !st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  auto model = std::make_shared<Model>();
  Status st;
  if (spec.rfind("synthetic:", 0) == 0) {
    SyntheticPlan plan;
    st = plan_synthetic_model(spec.substr(10), plan);
    if (st) st = build_synthetic_model(plan, 1, threads > 0 ? threads : 2, true, *model);
  } else {
    st = load_model(spec, LoadOptions{}, *model);
  }
  if (!st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  std::printf("model %s, kernels %s\n", spec.c_str(), kernels().isa);
  for (int k : {1, 2, 4, 8}) {
    SessionOptions opts;
    opts.n_ctx = n_prompt + n_gen + 1;
    opts.n_threads = threads;
    std::unique_ptr<MultiSession> ms;
    if (!(st = MultiSession::create(model, opts, k, ms))) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    std::vector<int32_t> prompt(n_prompt);
    for (int i = 0; i < n_prompt; ++i) prompt[i] = 100 + i;
    std::vector<MultiSession::Chunk> chunks;
    for (int s = 0; s < k; ++s) chunks.push_back({s, prompt.data(), n_prompt});
    if (!(st = ms->step(chunks))) return std::fprintf(stderr, "%s\n", st.message().c_str()), 1;
    std::vector<int32_t> next(k);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n_gen; ++i) {
      chunks.clear();
      for (int s = 0; s < k; ++s) {
        next[s] = 200 + (i * 7 + s) % 1000;
        chunks.push_back({s, &next[s], 1});
      }
      if (!(st = ms->step(chunks))) return std::fprintf(stderr, "%s\n", st.message().c_str()), 1;
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("K=%d  %.2f tok/s aggregate  (%.2f ms per step)\n", k, k * n_gen / sec,
                1e3 * sec / n_gen);
    std::fflush(stdout);
  }
  return 0;
}
