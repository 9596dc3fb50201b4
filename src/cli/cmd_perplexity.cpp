// `loam perplexity -m MODEL -f TEXT [-c N] [-b N]`: the perplexity of a model on a text, computed
// as llama.cpp's llama-perplexity does (see eval/perplexity.h for the windows), so the numbers can
// be compared. With --kl-divergence-base FILE it also saves the base model's log-probabilities;
// with --kl-divergence it compares the current model against such a file (how a quantization is
// judged). Results go to stdout; logs and progress to stderr.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/session_setup.h"
#include "eval/kl_base_file.h"
#include "eval/perplexity.h"
#include "loam/session.h"
#include "loam/tokenizer.h"

namespace loam::cli {

namespace {

constexpr int kIntMax = std::numeric_limits<int>::max();

struct PerplexityOptions {
  std::string model;
  std::string text_file;
  std::string tokenizer;
  std::string kl_base;     // --kl-divergence-base FILE
  bool kl_divergence = false;
  int n_ctx = 512;         // llama-perplexity's default
  int n_batch = 2048;      // tokens per eval call (llama.cpp's -b default)
  int n_threads = 0;
  int max_chunks = -1;     // --chunks: -1 = all
  bool no_repack = false;
  DType cache_k = kDefaultCacheType, cache_v = kDefaultCacheType;
  std::string max_memory;
};

void print_out(const char* text) {
  std::fputs(text, stdout);
  std::fflush(stdout);
}

// "window 3/10, 12 s left" on stderr, redrawn in place; only when stderr is a terminal, and
// erased before anything goes to stdout (which may be the same terminal).
class Progress {
 public:
  Progress() : on_(isatty(STDERR_FILENO) == 1) {}
  void show(int done, int total, double ms_per_window) {
    if (!on_) return;
    const double left_s = (total - done) * ms_per_window / 1000.0;
    std::fprintf(stderr, "\rperplexity: window %d/%d, %.0f s left ", done + 1, total, left_s);
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (!on_ || !shown_) return;
    std::fprintf(stderr, "\r%60s\r", "");
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
};

// Evaluates one window and hands the logits of each scored position to `score(pos, row)`:
// positions plan.first .. n_ctx-2, row [n_vocab] f32 predicting window[pos + 1]. The session is
// reset first; the window's first token is replaced by BOS when the vocabulary adds one (as
// llama-perplexity does). Evaluated in pieces of n_batch tokens so that an interruption is seen
// between them. Returns false when interrupted.
template <class Score>
bool run_window(Session& session, const int32_t* window, const eval::WindowPlan& plan,
                const Vocab& vocab, int n_batch, std::vector<float>& rows, Status& status,
                Score&& score) {
  const int n_ctx = plan.n_ctx;
  const int n_vocab = session.model().config.n_vocab;
  std::vector<int32_t> tokens(window, window + n_ctx);
  if (vocab.add_bos) tokens[0] = vocab.bos_id;
  session.reset();
  for (int start = 0; start < n_ctx; start += n_batch) {
    if (interrupted()) return false;
    const int n = std::min(n_batch, n_ctx - start);
    status = session.eval(tokens.data() + start, n, &rows);  // rows: [n][n_vocab]
    if (!status) return true;
    for (int i = 0; i < n; ++i) {
      const int pos = start + i;
      if (pos < plan.first || pos > n_ctx - 2) continue;
      score(pos, rows.data() + static_cast<size_t>(i) * n_vocab);
    }
  }
  return true;
}

void print_final_ppl(const eval::NllStats& nll) {
  char line[160];
  if (nll.ppl_error() > 0.0) {
    std::snprintf(line, sizeof(line), "Final estimate: PPL = %.4f +/- %.5f\n", nll.ppl(),
                  nll.ppl_error());
  } else {
    std::snprintf(line, sizeof(line), "Final estimate: PPL = %.4f\n", nll.ppl());
  }
  print_out(line);
}

void print_kl_chunk_header() {
  print_out("chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence"
            "              \xCE\x94p RMS            Same top p\n");
}

void print_kl_chunk_line(int chunk, const eval::KlStats& kl) {
  const eval::Estimate ppl = kl.ppl(), ratio = kl.log_ppl_ratio(), kld = kl.kl_divergence();
  const eval::Estimate rms = kl.p_diff_rms(), top = kl.same_top();
  char line[320];
  std::snprintf(line, sizeof(line),
                "%4d    %9.4f \xC2\xB1 %9.4f    %10.5f \xC2\xB1 %10.5f    %10.5f \xC2\xB1 %10.5f"
                "    %6.3f \xC2\xB1 %6.3f %%    %6.3f \xC2\xB1 %6.3f %%\n",
                chunk, ppl.value, ppl.error, ratio.value, ratio.error, kld.value, kld.error,
                100.0 * rms.value, 100.0 * rms.error, 100.0 * top.value, 100.0 * top.error);
  print_out(line);
}

void print_kl_summary(const eval::KlStats& kl) {
  std::string s;
  char line[200];
  auto add = [&s, &line](int n) { s.append(line, static_cast<size_t>(std::max(0, n))); };
  const char* pm = "\xC2\xB1";  // ±
  const eval::Estimate q = kl.ppl(), b = kl.ppl_base(), lr = kl.log_ppl_ratio();
  const eval::Estimate r = kl.ppl_ratio(), d = kl.ppl_difference();
  s += "\n====== Perplexity statistics ======\n";
  add(std::snprintf(line, sizeof(line), "Mean PPL(Q)                   : %10.6f %s %10.6f\n",
                    q.value, pm, q.error));
  add(std::snprintf(line, sizeof(line), "Mean PPL(base)                : %10.6f %s %10.6f\n",
                    b.value, pm, b.error));
  add(std::snprintf(line, sizeof(line), "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n",
                    100.0 * kl.log_ppl_correlation()));
  add(std::snprintf(line, sizeof(line), "Mean ln(PPL(Q)/PPL(base))     : %10.6f %s %10.6f\n",
                    lr.value, pm, lr.error));
  add(std::snprintf(line, sizeof(line), "Mean PPL(Q)/PPL(base)         : %10.6f %s %10.6f\n",
                    r.value, pm, r.error));
  add(std::snprintf(line, sizeof(line), "Mean PPL(Q)-PPL(base)         : %10.6f %s %10.6f\n",
                    d.value, pm, d.error));

  const std::vector<float> kld = kl.sorted_kl();
  const eval::Estimate mk = kl.kl_divergence();
  s += "\n====== KL divergence statistics ======\n";
  add(std::snprintf(line, sizeof(line), "Mean    KLD: %10.6f %s %10.6f\n", mk.value, pm, mk.error));
  const struct {
    const char* label;
    double fraction;
  } kKlRows[] = {{"Maximum KLD", 1.0}, {"99.9%   KLD", 0.999}, {"99.0%   KLD", 0.99},
                 {"95.0%   KLD", 0.95}, {"90.0%   KLD", 0.90}, {"Median  KLD", -1.0},
                 {"10.0%   KLD", 0.10}, {" 5.0%   KLD", 0.05}, {" 1.0%   KLD", 0.01},
                 {" 0.1%   KLD", 0.001}, {"Minimum KLD", 0.0}};
  for (const auto& row : kKlRows) {
    const double v = row.fraction < 0 ? eval::median(kld) : eval::percentile(kld, row.fraction);
    add(std::snprintf(line, sizeof(line), "%s: %10.6f\n", row.label, v));
  }

  const std::vector<float> dp = kl.sorted_p_diff();
  const eval::Estimate md = kl.p_diff(), rms = kl.p_diff_rms(), top = kl.same_top();
  s += "\n====== Token probability statistics ======\n";
  add(std::snprintf(line, sizeof(line), "Mean    \xCE\x94p: %6.3f %s %5.3f %%\n", 100.0 * md.value,
                    pm, 100.0 * md.error));
  const struct {
    const char* label;
    double fraction;
  } kPRows[] = {{"Maximum", 1.0}, {"99.9%  ", 0.999}, {"99.0%  ", 0.99}, {"95.0%  ", 0.95},
                {"90.0%  ", 0.90}, {"75.0%  ", 0.75}, {"Median ", -1.0}, {"25.0%  ", 0.25},
                {"10.0%  ", 0.10}, {" 5.0%  ", 0.05}, {" 1.0%  ", 0.01}, {" 0.1%  ", 0.001},
                {"Minimum", 0.0}};
  for (const auto& row : kPRows) {
    const double v = row.fraction < 0 ? eval::median(dp) : eval::percentile(dp, row.fraction);
    add(std::snprintf(line, sizeof(line), "%s \xCE\x94p: %6.3f%%\n", row.label, 100.0 * v));
  }
  add(std::snprintf(line, sizeof(line), "RMS \xCE\x94p    : %6.3f %s %5.3f %%\n",
                    100.0 * rms.value, pm, 100.0 * rms.error));
  add(std::snprintf(line, sizeof(line), "Same top p: %6.3f %s %5.3f %%\n", 100.0 * top.value, pm,
                    100.0 * top.error));
  print_out(s.c_str());
}

void add_options(ArgParser& p, PerplexityOptions& o) {
  p.text("-m", "--model", "FILE", "model: GGUF file or llama2.c checkpoint (.bin)", &o.model);
  p.text("-f", "--file", "FILE", "the text to score ('-' = stdin); one trailing newline is "
         "dropped", &o.text_file);
  p.integer("-c", "--ctx-size", "N", "tokens per window; the text needs at least 2N "
            "(default 512)", &o.n_ctx, 4, kIntMax);
  p.integer("-b", "--batch-size", "N", "tokens per evaluation call (default 2048; results do "
            "not depend on it)", &o.n_batch, 1, kIntMax);
  p.integer("-t", "--threads", "N", "threads (default: physical cores available)", &o.n_threads,
            1, 4096);
  p.integer("", "--chunks", "N", "score at most N windows; -1 = all (default -1)", &o.max_chunks,
            -1, kIntMax);
  p.text("", "--kl-divergence-base", "FILE", "without --kl-divergence: also save this model's "
         "log-probabilities to FILE; with it: the file to compare against", &o.kl_base);
  p.flag("", "--kl-divergence", "compare this model with --kl-divergence-base FILE (its tokens "
         "are used; -f is optional and then must give the same tokens)", &o.kl_divergence);
  p.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint", &o.tokenizer);
  p.flag("", "--no-repack", "keep every weight in the file's layout (same results; no copy)",
         &o.no_repack);
  add_cache_type_options(p, &o.cache_k, &o.cache_v);
  add_max_memory_option(p, &o.max_memory);
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
  PerplexityOptions o;
  ArgParser parser(
      "perplexity",
      "loam perplexity -m MODEL -f TEXT [-c N] [-b N] [--kl-divergence-base FILE "
      "[--kl-divergence]]",
      "Scores a text as llama.cpp's llama-perplexity does: its tokens (BOS first) are cut into\n"
      "windows of -c tokens, each starting again from BOS, and each window is scored on its\n"
      "second half. Prints the running perplexity after each window ([1]12.3456,[2]...) and the\n"
      "final estimate with its standard error on stdout; logs go to stderr.");
  add_options(parser, o);
  parser.epilog(
      "examples:\n"
      "  loam perplexity -m model.gguf -f wiki.test.raw -c 512\n"
      "  loam perplexity -m model-f16.gguf -f wiki.test.raw --kl-divergence-base base.kld\n"
      "  loam perplexity -m model-Q4_0.gguf --kl-divergence-base base.kld --kl-divergence\n"
      "The base file stores 4 bytes per vocabulary entry per scored token (n_vocab 32000,\n"
      "-c 512: 32.6 MB per window).");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (o.kl_divergence && o.kl_base.empty()) {
    return usage_error("perplexity", "--kl-divergence needs --kl-divergence-base FILE");
  }
  if (!o.kl_divergence && o.text_file.empty()) {
    return usage_error("perplexity", "missing -f FILE (the text to score)");
  }
  uint64_t max_memory = 0;
  if (Status st = parse_max_memory(o.max_memory, max_memory); !st) {
    return usage_error("perplexity", st.message());
  }
  if (o.model.empty()) {
    if (Status st = default_model_path(o.model); !st) {
      return usage_error("perplexity", st.message());
    }
  }
  if (Status st = select_isa(); !st) return runtime_error(st.message());
  catch_interrupts();

  // Inputs that can be checked without the model come first: a missing text or base file is
  // reported before a possibly long load.
  std::string text;
  if (!o.text_file.empty()) {
    if (Status st = read_file_text(o.text_file, text); !st) return runtime_error(st.message());
    if (!text.empty() && text.back() == '\n') text.pop_back();  // as llama.cpp's -f
  }
  eval::KlBaseReader base;
  if (o.kl_divergence) {
    if (Status st = base.open(o.kl_base); !st) return runtime_error(st.message());
    const int file_ctx = static_cast<int>(base.header().n_ctx);
    if (parser.given("--ctx-size") && o.n_ctx != file_ctx) {
      return runtime_error(o.kl_base + ": written with windows of " + std::to_string(file_ctx) +
                           " tokens, but -c is " + std::to_string(o.n_ctx) +
                           " (leave -c out to use the file's)");
    }
    o.n_ctx = file_ctx;
  }

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  if (Status st = load_model_unpacked(o.model, o.tokenizer, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  const int n_vocab = model->config.n_vocab;
  if (o.kl_divergence && base.header().n_vocab != static_cast<uint32_t>(n_vocab)) {
    return runtime_error(o.kl_base + ": written for a vocabulary of " +
                         std::to_string(base.header().n_vocab) + " tokens, but " + o.model +
                         " has " + std::to_string(n_vocab));
  }
  if (!o.text_file.empty()) {
    if (Status st = require_vocab(*model, "perplexity"); !st) return runtime_error(st.message());
  }

  // The tokens: the text's (BOS first when the vocabulary adds one, as llama-perplexity), or in
  // KL mode the base file's, which the text, when given, must reproduce.
  std::vector<int32_t> tokens;
  if (!o.text_file.empty()) {
    const Tokenizer tokenizer(model->vocab);
    tokens = tokenizer.encode(text, model->vocab.add_bos);
  }
  eval::WindowPlan plan;
  if (o.kl_divergence) {
    const std::vector<int32_t>& base_tokens = base.tokens();
    if (!o.text_file.empty()) {
      const size_t n = std::min(tokens.size(), base_tokens.size());
      size_t at = 0;
      while (at < n && tokens[at] == base_tokens[at]) ++at;
      if (at < base_tokens.size()) {
        return runtime_error(o.text_file + " does not give the tokens " + o.kl_base +
                             " was written for (they differ at token " + std::to_string(at) +
                             "; different text or tokenizer?)");
      }
    }
    tokens = base_tokens;
  }
  if (o.kl_divergence) {
    // The file holds whole windows already (perhaps only one, written with --chunks 1).
    plan.n_ctx = o.n_ctx;
    plan.first = o.n_ctx / 2;
    plan.n_chunk = static_cast<int>(base.header().n_chunk);
    if (o.max_chunks >= 0) plan.n_chunk = std::min(plan.n_chunk, o.max_chunks);
  } else if (Status st = eval::plan_windows(tokens.size(), o.n_ctx, o.max_chunks, plan); !st) {
    return runtime_error(o.text_file + ": " + st.message());
  }
  if (plan.n_chunk == 0) return usage_error("perplexity", "--chunks 0 scores nothing");
  if (o.kl_divergence) {
    for (int32_t id : tokens) {
      if (id >= n_vocab) return runtime_error(o.kl_base + ": token id out of range");
    }
  }

  SessionPlan session_plan;
  session_plan.options.n_ctx = plan.n_ctx;
  session_plan.options.n_threads = o.n_threads;
  session_plan.options.cache_type_k = o.cache_k;
  session_plan.options.cache_type_v = o.cache_v;
  session_plan.repack = !o.no_repack;
  session_plan.max_memory = max_memory;
  const int n_batch = std::min(o.n_batch, plan.n_ctx);
  // Logits rows of one eval call [n_batch][n_vocab] f32, plus in KL mode a window of base rows
  // [scored][n_vocab] f32 and the file writer's copy of the same.
  session_plan.extra_bytes =
      uint64_t{4} * static_cast<uint64_t>(n_vocab) *
      (static_cast<uint64_t>(n_batch) + 2 * static_cast<uint64_t>(plan.scored_per_chunk()));
  std::unique_ptr<Session> session;
  double repack_ms = 0.0;
  if (Status st = create_session_checked(model, session_plan, session, repack_ms); !st) {
    return runtime_error(st.message());
  }
  load_ms += repack_ms;

  const bool write_base = !o.kl_base.empty() && !o.kl_divergence;
  eval::KlBaseWriter writer;
  eval::KlBaseHeader header;
  header.n_vocab = static_cast<uint32_t>(n_vocab);
  header.n_ctx = static_cast<uint32_t>(plan.n_ctx);
  header.n_chunk = static_cast<uint32_t>(plan.n_chunk);
  if (write_base) {
    const size_t n_used = static_cast<size_t>(plan.n_chunk) * static_cast<size_t>(plan.n_ctx);
    const std::vector<int32_t> used(tokens.begin(), tokens.begin() + n_used);
    if (Status st = writer.open(o.kl_base, header, used); !st) return runtime_error(st.message());
  }

  log_line("model: %s, loaded in %.1f ms%s", o.model.c_str(), load_ms,
           describe_repack(*model).c_str());
  if (plan.n_ctx > model->config.n_ctx_train && model->config.n_ctx_train > 0) {
    log_line("warning: the model was trained on only %d context tokens (-c %d)",
             model->config.n_ctx_train, plan.n_ctx);
  }
  log_line("perplexity: %zu tokens, %d windows of %d tokens, scoring the last %d of each "
           "(%lld tokens); batch %d, threads %d",
           tokens.size(), plan.n_chunk, plan.n_ctx, plan.scored_per_chunk(),
           static_cast<long long>(plan.n_chunk) * plan.scored_per_chunk(), n_batch,
           session->threads());
  if (write_base) {
    log_line("saving the log-probabilities to %s (%s)", o.kl_base.c_str(),
             format_bytes(static_cast<double>(header.file_bytes())).c_str());
  }

  eval::NllStats nll;
  eval::KlStats kl;
  std::vector<float> rows;        // [n_batch][n_vocab] logits of one eval call
  std::vector<float> base_rows;   // [scored][n_vocab] log-probabilities of one window
  Progress progress;
  Stopwatch clock;
  bool was_interrupted = false;
  for (int c = 0; c < plan.n_chunk; ++c) {
    progress.show(c, plan.n_chunk, c > 0 ? clock.ms() / c : 0.0);
    const int32_t* window = tokens.data() + static_cast<size_t>(c) * plan.n_ctx;
    if (o.kl_divergence) {
      if (Status st = base.read_rows(base_rows); !st) return runtime_error(st.message());
    } else if (write_base) {
      base_rows.resize(static_cast<size_t>(plan.scored_per_chunk()) * n_vocab);
    }
    Status status;
    const bool finished = run_window(
        *session, window, plan, model->vocab, n_batch, rows, status,
        [&](int pos, const float* row) {
          const int32_t next = window[pos + 1];
          float* base_row = base_rows.data() + static_cast<size_t>(pos - plan.first) * n_vocab;
          if (o.kl_divergence) {
            kl.add(row, base_row, n_vocab, next);
          } else {
            nll.add(-eval::log_softmax_at(row, n_vocab, next));
            if (write_base) eval::log_softmax_row(row, n_vocab, base_row);
          }
        });
    if (!status) {
      progress.clear();
      return runtime_error(status.message());
    }
    if (!finished) {
      was_interrupted = true;
      break;
    }
    progress.clear();
    if (o.kl_divergence) {
      if (c == 0) print_kl_chunk_header();
      print_kl_chunk_line(c + 1, kl);
    } else {
      if (write_base) {
        if (Status st = writer.write_rows(base_rows); !st) return runtime_error(st.message());
      }
      char item[64];
      std::snprintf(item, sizeof(item), "[%d]%.4f,", c + 1, nll.ppl());
      print_out(item);
    }
  }
  progress.clear();
  if (!o.kl_divergence) print_out("\n");

  if (was_interrupted) {
    if (write_base) {
      (void)writer.close();
      std::remove(o.kl_base.c_str());  // an incomplete base file would only be refused later
    }
    log_line("stop: interrupted by %s after %lld scored tokens", interrupt_name(),
             static_cast<long long>(o.kl_divergence ? kl.count() : nll.count));
    return kExitInterrupted;
  }
  if (o.kl_divergence) {
    print_kl_summary(kl);
  } else {
    print_final_ppl(nll);
    if (write_base) {
      if (Status st = writer.close(); !st) return runtime_error(st.message());
    }
  }
  log_line("scored %lld tokens in %.1f ms", static_cast<long long>(plan.n_chunk) *
           plan.scored_per_chunk(), clock.ms());
  return kExitOk;
}

}  // namespace loam::cli
