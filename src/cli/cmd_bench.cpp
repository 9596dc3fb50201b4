// `loam bench`: llama-bench's tests and tables (pp, tg, pg, at depths, over thread counts), on
// model files or on models built in memory from a known shape (--synthetic SHAPE:TYPE), with the
// machine's read bandwidth measured in the same run and the fraction of it decoding uses.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_chart.h"
#include "bench/bench_model.h"
#include "bench/bench_report.h"
#include "bench/bench_test.h"
#include "cli/cli.h"
#include "cli/session_setup.h"
#include "core/cpu_features.h"
#include "core/memory_bandwidth.h"
#include "core/memory_budget.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "loam/session.h"
#include "model/model_shapes.h"
#include "model/synthetic_model.h"

#ifndef LOAM_BUILD_COMMIT
#define LOAM_BUILD_COMMIT "unknown"
#endif
#ifndef LOAM_BUILD_NUMBER
#define LOAM_BUILD_NUMBER 0
#endif

namespace loam::cli {

namespace {

// Passes of the bandwidth probe; the best one counts. On the shared VMs Loam is developed on the
// probe's result moves between 32 and 54 GB/s from run to run; more passes do not remove that,
// but they keep one unlucky pass from setting the figure.
constexpr int kBandwidthPasses = 10;

struct ModelSource {
  bool synthetic = false;
  std::string spec;       // a path, or SHAPE:TYPE
  SyntheticPlan plan;     // for synthetic models
};

struct BenchOptions {
  std::vector<ModelSource> models;
  std::vector<int> n_prompt, n_gen, n_depth, threads;
  std::vector<std::pair<int, int>> pg;
  int repetitions = 5;
  bench::OutputFormat format = bench::OutputFormat::Markdown;
  std::string svg_path;
  bool no_warmup = false, no_repack = false;
  uint64_t max_memory = 0;
  uint64_t bandwidth_bytes = uint64_t(1) << 30;
  uint64_t seed = 1;
};

// One item of a list as llama-bench reads it: N, or a range FIRST-LAST stepped by +STEP (default
// +1) or *FACTOR, e.g. 1-8, 0-4096+1024, 64-512*2.
bool expand_item(const std::string& item, int64_t lo, int64_t hi, std::vector<int>& out) {
  const size_t dash = item.find('-', 1);
  int64_t first = 0, last = 0, step = 1;
  bool multiply = false;
  if (dash == std::string::npos) {
    if (!parse_int64(item, first) || first < lo || first > hi) return false;
    out.push_back(static_cast<int>(first));
    return true;
  }
  const size_t op = item.find_first_of("+*", dash + 1);
  if (!parse_int64(item.substr(0, dash), first) ||
      !parse_int64(item.substr(dash + 1, op == std::string::npos ? std::string::npos : op - dash - 1), last))
    return false;
  if (op != std::string::npos) {
    multiply = item[op] == '*';
    if (!parse_int64(item.substr(op + 1), step) || step < (multiply ? 2 : 1)) return false;
  }
  if (first < lo || last > hi || first > last || (multiply && first == 0)) return false;
  constexpr size_t kMaxValues = 1024;  // a typo such as 1-1000000 must not queue a million tests
  for (int64_t v = first; v <= last; v = multiply ? v * step : v + step) {
    if (out.size() >= kMaxValues) return false;
    out.push_back(static_cast<int>(v));
  }
  return true;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

// "512,1024" (and repeated flags, and ranges: expand_item) into `out`; every value within
// [lo, hi].
Status append_int_list(const std::string& flag, const std::string& text, int lo, int hi,
                       std::vector<int>& out) {
  for (const std::string& item : split_commas(text)) {
    if (!expand_item(item, lo, hi, out)) {
      return Status::error(flag + " expects integers between " + std::to_string(lo) + " and " +
                           std::to_string(hi) + " separated by commas, or ranges such as 1-8, "
                           "0-4096+1024 or 64-512*2; got '" + text + "'");
    }
  }
  return Status::ok();
}

// The tests in llama-bench's order for each depth: pp, then tg, then pg.
std::vector<bench::BenchTest> expand_tests(const BenchOptions& o) {
  std::vector<bench::BenchTest> tests;
  for (int d : o.n_depth) {
    for (int p : o.n_prompt)
      if (p > 0) tests.push_back({p, 0, d});
    for (int n : o.n_gen)
      if (n > 0) tests.push_back({0, n, d});
    for (const auto& pg : o.pg) tests.push_back({pg.first, pg.second, d});
  }
  return tests;
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A progress line on stderr, only when stderr is a terminal: overwritten in place with '\r' and
// cleared before a result row is printed (so a terminal showing both streams stays readable).
class Progress {
 public:
  Progress() : on_(isatty(STDERR_FILENO) == 1) {}
  void show(const std::string& text) {
    if (!on_) return;
    std::string line = "\r" + text;
    if (text.size() < width_) line += std::string(width_ - text.size(), ' ');
    width_ = std::max(width_, text.size());
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
  void clear() {
    if (!on_ || width_ == 0) return;
    std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
    std::fflush(stderr);
    width_ = 0;
  }

 private:
  bool on_;
  size_t width_ = 0;
};

int max_context(const std::vector<bench::BenchTest>& tests) {
  int n = 1;
  for (const bench::BenchTest& t : tests) n = std::max(n, t.context_needed());
  return n;
}

void emit(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  BenchOptions o;
  std::vector<int> pg_values;
  std::string output = "md", max_memory_text, bw_size_text;
  DType cache_k = kDefaultCacheType, cache_v = kDefaultCacheType;
  int64_t seed = 1;
  ArgParser parser(
      "bench",
      "loam bench [-m FILE | --synthetic SHAPE:TYPE]... [-p N,..] [-n N,..] [-pg PP,TG] [-d N,..] "
      "[-t N,..] [-r N] [-o md|csv|json|jsonl] [--svg FILE]",
      "Measures prompt processing (pp: -p tokens in one batch) and text generation (tg: -n tokens\n"
      "one at a time) as llama-bench does: a warm-up run, then -r repetitions of each test, and\n"
      "the mean and standard deviation of tokens/s. Every numeric flag takes a comma list (or is\n"
      "repeated) and ranges (1-8, 0-4096+1024, 64-512*2); every combination of models, threads,\n"
      "depths and tests runs. The machine's read bandwidth is measured once per thread count,\n"
      "and each tg row gets the fraction of it that decoding used (bw). Results go to stdout,\n"
      "progress to stderr (on a terminal).\n\n"
      "--synthetic SHAPE:TYPE benchmarks a model that is not on disk: weights of the real sizes\n"
      "and types, pseudo-random, built in memory. Shapes: " + model_shape_names() + ".\n"
      "Types: as 'loam quantize' takes them (q4_0, q4_k_m, q8_0, f16, ...).");
  parser.custom("-m", "--model", "FILE", "model file (repeatable, or comma-separated)",
                [&](const std::string& v) {
                  for (const std::string& p : split_commas(v)) o.models.push_back({false, p, {}});
                  return Status::ok();
                });
  parser.custom("", "--synthetic", "SHAPE:TYPE",
                "a model built in memory, e.g. tinyllama-1.1b:q4_0 (repeatable, or comma-separated)",
                [&](const std::string& v) {
                  for (const std::string& s : split_commas(v)) {
                    ModelSource src{true, s, {}};
                    LOAM_TRY(plan_synthetic_model(s, src.plan));
                    o.models.push_back(std::move(src));
                  }
                  return Status::ok();
                });
  parser.custom("-p", "--n-prompt", "N,..", "prompt tokens of the pp tests; 0 = none (default 512)",
                [&](const std::string& v) { return append_int_list("-p", v, 0, 1 << 20, o.n_prompt); });
  parser.custom("-n", "--n-gen", "N,..", "generated tokens of the tg tests; 0 = none (default 128)",
                [&](const std::string& v) { return append_int_list("-n", v, 0, 1 << 20, o.n_gen); });
  parser.custom("-pg", "", "PP,TG", "a test of PP prompt tokens then TG generated ones (repeatable)",
                [&](const std::string& v) {
                  std::vector<int> pair;
                  LOAM_TRY(append_int_list("-pg", v, 0, 1 << 20, pair));
                  if (pair.size() != 2 || pair[0] + pair[1] == 0)
                    return Status::error("-pg expects PP,TG (e.g. 512,128), got '" + v + "'");
                  o.pg.push_back({pair[0], pair[1]});
                  return Status::ok();
                });
  parser.custom("-d", "--n-depth", "N,..", "context depth: tokens in the KV cache before each test "
                "(default 0)",
                [&](const std::string& v) { return append_int_list("-d", v, 0, 1 << 20, o.n_depth); });
  parser.custom("-t", "--threads", "N,..", "thread counts (default: physical cores available)",
                [&](const std::string& v) { return append_int_list("-t", v, 1, 512, o.threads); });
  parser.integer("-r", "--repetitions", "N", "repetitions of each test (default 5)", &o.repetitions, 1, 1000);
  parser.text("-o", "--output", "FORMAT", "md (default), csv, json or jsonl", &output);
  parser.text("", "--svg", "FILE", "also write a chart of tokens/s against threads or depth, with "
              "the decode rate the bandwidth allows", &o.svg_path);
  add_cache_type_options(parser, &cache_k, &cache_v);
  parser.flag("", "--no-warmup", "skip the warm-up run before each test", &o.no_warmup);
  parser.flag("", "--no-repack", "keep weights in the file's layout (see 'loam run --help')", &o.no_repack);
  parser.text("", "--max-memory", "SIZE", "refuse what needs more memory than SIZE (e.g. 8G); "
              "default: what the system has available", &max_memory_text);
  parser.text("", "--bw-size", "SIZE", "buffer the read-bandwidth probe streams (default 1G; 0 = "
              "no probe, no bw column)", &bw_size_text);
  parser.custom("", "--seed", "N", "seed of the synthetic weights (default 1)", [&](const std::string& v) {
    if (!parse_int64(v, seed) || seed < 0) return Status::error("--seed expects an integer >= 0, got '" + v + "'");
    return Status::ok();
  });
  parser.epilog(
      "examples:\n"
      "  loam bench --synthetic tinyllama-1.1b:q4_0\n"
      "  loam bench -m model.gguf -p 512 -n 128 -t 1,2,4 -o json\n"
      "  loam bench --synthetic llama3.2-1b:q4_k_m,llama3.2-1b:q8_0 -p 0 -n 64 -d 0,1024,4096 --svg d.svg\n");
  if (const int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;
  o.seed = static_cast<uint64_t>(seed);

  if (o.models.empty())
    return usage_error("bench", "give a model: -m FILE or --synthetic SHAPE:TYPE (e.g. tinyllama-1.1b:q4_0)");
  if (!bench::parse_output_format(output, o.format))
    return usage_error("bench", "-o expects md, csv, json or jsonl, got '" + output + "'");
  if (!max_memory_text.empty() && !parse_byte_size(max_memory_text, o.max_memory))
    return usage_error("bench", "--max-memory expects a size such as 8G or 512M, got '" + max_memory_text + "'");
  if (bw_size_text == "0") o.bandwidth_bytes = 0;
  else if (!bw_size_text.empty() && (!parse_byte_size(bw_size_text, o.bandwidth_bytes) || o.bandwidth_bytes < (uint64_t(64) << 20)))
    return usage_error("bench", "--bw-size expects 0 or a size of at least 64M such as 1G, got '" + bw_size_text + "'");
  if (o.n_prompt.empty()) o.n_prompt = {512};
  if (o.n_gen.empty()) o.n_gen = {128};
  if (o.n_depth.empty()) o.n_depth = {0};
  if (o.threads.empty()) o.threads = {default_thread_count()};
  const std::vector<bench::BenchTest> tests = expand_tests(o);
  if (tests.empty()) return usage_error("bench", "no test to run: -p and -n are both 0 and no -pg");
  if (Status st = select_isa(); !st) return runtime_error(st.message());

  const int n_ctx = max_context(tests);
  const int max_threads = *std::max_element(o.threads.begin(), o.threads.end());
  const MemoryBudget budget = available_memory(o.max_memory);
  // Every synthetic model is checked before anything is allocated or measured: weights, the
  // transient interleaved copy, and the session (KV cache for the deepest test, activations).
  for (const ModelSource& m : o.models) {
    if (!m.synthetic) continue;
    if (n_ctx > m.plan.config.n_ctx_train) {
      log_line("loam bench: note: tests need %d positions, more than %s was trained for (%d)", n_ctx,
               m.plan.shape_name.c_str(), m.plan.config.n_ctx_train);
    }
    const uint64_t need = m.plan.buffer_bytes + (o.no_repack ? 0 : m.plan.interleave_peak_bytes) +
                          Session::memory_bytes(m.plan.config, n_ctx, max_threads, cache_k, cache_v);
    if (Status st = check_memory("synthetic model " + m.plan.spec + " with a " +
                                     std::to_string(n_ctx) + "-token context", need, budget);
        !st)
      return runtime_error(st.message());
  }

  Progress progress;
  // Read bandwidth, once per thread count, before any model is in memory: the best of 10 passes of
  // three streaming patterns over a 1 GiB buffer (core/memory_bandwidth.h), with as many threads
  // as the tests. At most a quarter of the memory available, so the probe never competes with the
  // model; a buffer that fits in the caches would measure the caches, so below 64 MiB none runs.
  const size_t bw_bytes = static_cast<size_t>(std::min<uint64_t>(o.bandwidth_bytes, budget.available / 4));
  std::vector<double> bandwidth(o.threads.size(), 0.0);
  for (size_t i = 0; i < o.threads.size(); ++i) {
    if (bw_bytes < (size_t(64) << 20)) {
      if (o.bandwidth_bytes != 0) log_line("loam bench: no bandwidth probe (less than 64 MiB to spare)");
      break;
    }
    progress.show("loam bench: measuring read bandwidth with " + std::to_string(o.threads[i]) + " threads");
    ThreadPool pool(o.threads[i]);
    bandwidth[i] = measure_read_bandwidth(pool, bw_bytes, kBandwidthPasses).read_gbs;
    progress.clear();
    log_line("loam bench: read bandwidth with %d threads: %.1f GB/s (best of %d passes over %s)",
             o.threads[i], bandwidth[i], kBandwidthPasses, describe_bytes(bw_bytes).c_str());
  }

  const std::string cpu = cpu_model_name();
  std::vector<bench::BenchRow> rows;
  emit(bench::header(o.format));
  const size_t total = o.models.size() * o.threads.size() * tests.size();
  size_t done = 0;
  for (const ModelSource& src : o.models) {
    auto model = std::make_shared<Model>();
    Stopwatch clock;
    std::string label = src.spec;
    if (src.synthetic) {
      progress.show("loam bench: building " + src.plan.spec + " (" + describe_bytes(src.plan.weight_bytes) + ")");
      Status st = build_synthetic_model(src.plan, o.seed, max_threads, !o.no_repack, *model);
      progress.clear();
      if (!st) return runtime_error(st.message());
      label = src.plan.spec;
      log_line("loam bench: built %s in memory (%s, %s%s) in %.2f s", src.plan.spec.c_str(),
               describe_bytes(src.plan.weight_bytes).c_str(), format_count(static_cast<double>(src.plan.n_params)).c_str(),
               " parameters", clock.ms() / 1000.0);
    } else {
      double ms = 0;
      std::shared_ptr<Model> loaded;
      if (Status st = load_model_timed(src.spec, "", !o.no_repack, loaded, ms); !st)
        return runtime_error(st.message());
      model = loaded;
      const size_t slash = src.spec.find_last_of('/');
      label = slash == std::string::npos ? src.spec : src.spec.substr(slash + 1);
      log_line("loam bench: loaded %s in %.2f s%s", src.spec.c_str(), ms / 1000.0, describe_repack(*model).c_str());
    }
    const bench::ModelSummary summary = bench::summarize_model(*model, label);

    for (size_t ti = 0; ti < o.threads.size(); ++ti) {
      const int t = o.threads[ti];
      if (!src.synthetic) {
        const uint64_t need = Session::memory_bytes(model->config, n_ctx, t, cache_k, cache_v);
        if (Status st = check_memory("a " + std::to_string(n_ctx) + "-token session of " + src.spec, need, budget); !st)
          return runtime_error(st.message());
      }
      SessionOptions so;
      so.n_ctx = n_ctx;
      so.n_threads = t;
      so.cache_type_k = cache_k;
      so.cache_type_v = cache_v;
      std::unique_ptr<Session> session;
      if (Status st = Session::create(model, so, session); !st) return runtime_error(st.message());
      bench::BenchRunner runner(*session);
      for (const bench::BenchTest& test : tests) {
        ++done;
        const std::string where = "loam bench: [" + std::to_string(done) + "/" + std::to_string(total) + "] " +
                                  label + " t=" + std::to_string(t) + " " + test.name();
        bench::BenchRow r;
        r.build_commit = LOAM_BUILD_COMMIT;
        r.build_number = LOAM_BUILD_NUMBER;
        r.cpu_info = cpu;
        r.isa = kernels().isa;
        r.model_filename = summary.filename;
        r.model_type = summary.type;
        r.model_size = summary.size;
        r.model_n_params = summary.n_params;
        r.synthetic = src.synthetic;
        r.n_batch = session->max_batch();
        r.n_threads = t;
        r.type_k = cache_type_label(cache_k);
        r.type_v = cache_type_label(cache_v);
        r.use_mmap = !src.synthetic;
        r.test = test;
        r.read_bw_gbs = bandwidth[ti];
        r.bytes_per_token = bench::bytes_per_generated_token(summary, test.n_depth, test.n_gen);
        uint64_t ns = 0;
        if (!o.no_warmup) {
          progress.show(where + ": warm-up");
          const bench::BenchTest warm{std::min(test.n_prompt, 32), std::min(test.n_gen, 1), test.n_depth};
          if (Status st = runner.run_once(warm, ns); !st) return runtime_error(st.message());
        }
        r.test_time = utc_now_iso8601();
        for (int rep = 0; rep < o.repetitions; ++rep) {
          progress.show(where + ": run " + std::to_string(rep + 1) + "/" + std::to_string(o.repetitions));
          if (Status st = runner.run_once(test, ns); !st) return runtime_error(st.message());
          r.samples_ns.push_back(ns);
        }
        progress.clear();
        emit(bench::row(o.format, r, rows.empty()));
        rows.push_back(std::move(r));
      }
    }
  }
  emit(bench::footer(o.format));

  if (!o.svg_path.empty()) {
    const std::string svg = bench::render_chart(rows, cpu);
    FILE* f = std::fopen(o.svg_path.c_str(), "wb");
    if (!f) return runtime_error("cannot write " + o.svg_path + ": " + std::strerror(errno));
    const bool written = std::fwrite(svg.data(), 1, svg.size(), f) == svg.size();
    if (std::fclose(f) != 0 || !written) return runtime_error("cannot write " + o.svg_path);
    log_line("loam bench: wrote the chart to %s", o.svg_path.c_str());
  }
  return kExitOk;
}

}  // namespace loam::cli
