// `loam batch`: a JSONL file of prompts in, a JSONL file of results out, the model loaded once and
// up to K sequences decoded together (continuous batching over a MultiSession). A bad line gives
// an error record and the rest go on; records are written in input order and flushed one by one,
// so a kill loses at most the sequences in flight, and re-running with the same -o resumes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batch/batch_input.h"
#include "batch/batch_output.h"
#include "batch/batch_scheduler.h"
#include "batch/multi_session_engine.h"
#include "cli/batch_setup.h"
#include "cli/chat_setup.h"
#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/sampling_options.h"
#include "cli/session_setup.h"
#include "kernels/kernels.h"
#include "loam/multi_session.h"
#include "loam/tokenizer.h"
#include "text/chat_template.h"

namespace loam::cli {

namespace {

constexpr int kIntMax = std::numeric_limits<int>::max();

struct BatchOptions {
  std::string model;
  std::string input = "-";
  std::string output = "-";
  std::string tokenizer;
  std::string shard;             // "I/N"
  int n_predict = -1;
  int n_ctx = 0;
  int n_threads = 0;
  int parallel = 0;              // 0: what memory allows, at most 8
  bool no_repack = false;
  DType cache_k = kDefaultCacheType, cache_v = kDefaultCacheType;
  std::string max_memory;
  std::string chat_template;     // --chat-template NAME for "messages" lines
  SamplingOptions sampling;
  std::vector<std::string> stop;
};

void add_options(ArgParser& p, BatchOptions& o) {
  p.text("-m", "--model", "FILE", "model: GGUF file, llama2.c checkpoint or Hugging Face "
         "directory", &o.model);
  p.text("-i", "--input", "FILE", "JSONL requests, one object per line ('-' = stdin, the "
         "default)", &o.input);
  p.text("-o", "--output", "FILE", "JSONL results, one per input line in input order ('-' = "
         "stdout, the default). An existing FILE is resumed: ids already in it are skipped",
         &o.output);
  p.integer("", "--parallel", "K", "sequences decoded together; 0 = as many as memory allows, at "
            "most 8 (default 0)", &o.parallel, 0, 256);
  p.text("", "--shard", "I/N", "process only the lines whose 0-based index % N == I", &o.shard);
  p.integer("-n", "--n-predict", "N", "tokens to generate per line; -1 = until end of "
            "generation or the context is full (default -1)", &o.n_predict, -1, kIntMax);
  p.integer("-c", "--ctx-size", "N", "context length of each sequence; 0 = min(model context, "
            "4096) (default 0)", &o.n_ctx, 0, kIntMax);
  p.integer("-t", "--threads", "N", "threads (default: physical cores available)", &o.n_threads,
            1, 4096);
  add_sampling_options(p, o.sampling);
  p.custom("", "--stop", "STR", "stop before the first STR in a line's text; repeatable (a "
           "line's \"stop\" list replaces these)",
           [&o](const std::string& v) {
             if (v.empty()) return Status::error("--stop expects a non-empty string");
             o.stop.push_back(v);
             return Status::ok();
           });
  p.text("", "--chat-template", "NAME", "render \"messages\" lines with this template instead "
         "of the model's (" + chat_family_names() + ")", &o.chat_template);
  p.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint", &o.tokenizer);
  p.flag("", "--no-repack", "keep every weight in the file's layout (same output, slower Q4_0 on "
         "AVX2)", &o.no_repack);
  add_cache_type_options(p, &o.cache_k, &o.cache_v);
  add_max_memory_option(p, &o.max_memory);
}

Status parse_shard(const std::string& text, uint64_t& index, uint64_t& count) {
  const size_t slash = text.find('/');
  int64_t i = 0, n = 0;
  if (slash == std::string::npos || !parse_int64(text.substr(0, slash), i) ||
      !parse_int64(text.substr(slash + 1), n) || n < 1 || i < 0 || i >= n) {
    return Status::error("--shard expects I/N with 0 <= I < N, e.g. 0/4, got '" + text + "'");
  }
  index = static_cast<uint64_t>(i);
  count = static_cast<uint64_t>(n);
  return Status::ok();
}

// Lines of a regular file (a last line without '\n' counts), for the progress total; -1 for a
// pipe or terminal, whose length is unknown until read.
int64_t count_lines(const std::string& path) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return -1;
  std::vector<char> buf(size_t(1) << 16);
  int64_t lines = 0;
  char last = '\n';
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) {
    lines += std::count(buf.data(), buf.data() + n, '\n');
    last = buf[n - 1];
  }
  std::fclose(f);
  return lines + (last != '\n' ? 1 : 0);
}

std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

// A progress line redrawn in place on a terminal (at most 4 times a second); nothing otherwise.
class Progress {
 public:
  Progress() : on_(isatty(STDERR_FILENO) == 1) {}
  void update(uint64_t done, int64_t total, uint64_t generated, double seconds) {
    if (!on_) return;
    const double since = clock_.ms();
    if (since - last_ms_ < 250.0) return;
    last_ms_ = since;
    char line[160];
    const double rate = seconds > 0 ? generated / seconds : 0.0;
    if (total >= 0) {
      const uint64_t left = static_cast<uint64_t>(total) > done ? total - done : 0;
      const std::string eta = done_this_run_ > 0 ? format_duration(seconds / done_this_run_ * left)
                                                 : std::string("?");
      std::snprintf(line, sizeof(line), "batch: %llu/%lld lines, %.1f tokens/s, ETA %s",
                    static_cast<unsigned long long>(done), static_cast<long long>(total), rate,
                    eta.c_str());
    } else {
      std::snprintf(line, sizeof(line), "batch: %llu lines, %.1f tokens/s",
                    static_cast<unsigned long long>(done), rate);
    }
    std::fprintf(stderr, "\r%-79s", line);
    std::fflush(stderr);
    drawn_ = true;
  }
  void count_done() { ++done_this_run_; }
  void clear() {
    if (drawn_) std::fprintf(stderr, "\r%79s\r", "");
    drawn_ = false;
  }

 private:
  bool on_;
  bool drawn_ = false;
  uint64_t done_this_run_ = 0;
  double last_ms_ = -1e9;
  Stopwatch clock_;
};

// Reads the input lines and turns each into a job for the scheduler, or an error record.
class Feeder {
 public:
  struct Context {
    batch::LineReader* reader;
    batch::OrderedWriter* writer;
    const Tokenizer* tokenizer;
    const Vocab* vocab;
    batch::GenerationSettings defaults;
    batch::InputLimits limits;
    batch::ExistingOutput* existing;
    uint64_t shard_index;
    uint64_t shard_count;
    int n_ctx;
    uint64_t base_seed;
    std::string model_path;      // for the chat template of "messages" lines
    std::string chat_template;   // --chat-template
  };
  explicit Feeder(Context c) : c_(std::move(c)) {}

  // The next line to run; false at the end of the input, on a stop request or on a failure.
  bool next(batch::SequenceJob& job) {
    std::string line;
    while (failure_.is_ok() && !interrupted()) {
      const batch::LineReader::Result res = c_.reader->next(line);
      if (res == batch::LineReader::Result::kEnd) return false;
      if (res == batch::LineReader::Result::kError) {
        if (!interrupted()) failure_ = Status::error("reading the input failed: " +
                                                     std::string(std::strerror(errno)));
        return false;
      }
      const uint64_t number = c_.reader->line_number();
      if ((number - 1) % c_.shard_count != c_.shard_index) continue;
      if (res == batch::LineReader::Result::kLine && batch::is_blank_line(line)) continue;
      batch::BatchRequest req;
      Status st;
      if (res == batch::LineReader::Result::kTooLong) {
        req.id = json::Value(number);
        st = Status::error("line " + std::to_string(number) + " is longer than " +
                           std::to_string(c_.limits.max_line_bytes >> 20) + " MiB");
      } else {
        st = batch::parse_request(line, number, c_.defaults, c_.limits, req);
      }
      if (already_done(req.id)) continue;
      std::vector<int32_t> prompt;
      int32_t end_of_turn = -1;
      if (st && req.has_messages) {
        st = render_chat(req, number, prompt, end_of_turn);
      } else if (st) {
        prompt = c_.tokenizer->encode(req.prompt, c_.vocab->add_bos);
        // Generation needs a token to condition on; a vocabulary that adds no BOS gets one here.
        if (prompt.empty()) prompt.push_back(c_.vocab->bos_id);
      }
      if (st) {
        if (static_cast<int>(prompt.size()) > c_.n_ctx) {
          st = Status::error("line " + std::to_string(number) + ": the prompt is " +
                             std::to_string(prompt.size()) + " tokens, longer than the context "
                             "of " + std::to_string(c_.n_ctx) + " tokens (-c)");
        }
      }
      const uint64_t ordinal = next_ordinal_++;
      if (!st) {
        batch::BatchRecord rec;
        rec.id = req.id;
        rec.line = number;
        rec.tokens_prompt = static_cast<int>(prompt.size());
        rec.stop_reason = batch::StopReason::kError;
        rec.error = st.message();
        ++failed_;
        if (Status w = c_.writer->complete(ordinal, batch::format_record(rec)); !w) failure_ = w;
        continue;
      }
      const batch::GenerationSettings& s = req.settings;
      job = batch::SequenceJob{};
      job.ordinal = ordinal;
      const int room = c_.n_ctx - static_cast<int>(prompt.size());
      job.limited_by_context = s.n_predict < 0 || s.n_predict > room;
      job.max_new = job.limited_by_context ? room : s.n_predict;
      job.prompt = std::move(prompt);
      job.sampling = s.sampling;
      job.sampling.repeat_last_n = s.repeat_last_n < 0 ? c_.n_ctx : s.repeat_last_n;
      // Without its own seed, a line uses the base seed plus its 0-based line index: fixed by
      // the input file alone, whatever --parallel, --shard or a resume does.
      if (!s.seed_given) job.sampling.seed = c_.base_seed + (number - 1);
      job.stop = s.stop;
      job.end_of_turn = end_of_turn;
      if (req.has_messages) {
        // The answer ends at the template's end-of-turn text too, as in `loam chat`.
        const std::string eot = chat_->end_of_turn();
        if (!eot.empty() && std::find(job.stop.begin(), job.stop.end(), eot) == job.stop.end()) {
          job.stop.push_back(eot);
        }
      }
      pending_[ordinal] = Pending{req.id, number};
      return true;
    }
    return false;
  }

  Status on_result(batch::SequenceResult&& r) {
    auto it = pending_.find(r.ordinal);
    if (it == pending_.end()) return Status::error("internal: a result for no line");
    batch::BatchRecord rec;
    rec.id = std::move(it->second.id);
    rec.line = it->second.line;
    pending_.erase(it);
    rec.text = std::move(r.text);
    rec.tokens_prompt = r.tokens_prompt;
    rec.tokens_generated = r.tokens_generated;
    rec.stop_reason = r.reason;
    rec.ms = r.ms;
    ++ok_;
    return c_.writer->complete(r.ordinal, batch::format_record(rec));
  }

  const Status& failure() const { return failure_; }
  uint64_t ok() const { return ok_; }
  uint64_t failed() const { return failed_; }
  uint64_t skipped() const { return skipped_; }

 private:
  struct Pending {
    json::Value id;
    uint64_t line;
  };

  // A "messages" line: rendered with the model's chat template (found on first use, so a model
  // without one fails only the lines that need it) and tokenized with its special tokens.
  Status render_chat(const batch::BatchRequest& req, uint64_t number, std::vector<int32_t>& out,
                     int32_t& end_of_turn) {
    if (!chat_tried_) {
      chat_tried_ = true;
      chat_status_ = make_chat_template(c_.model_path, *c_.vocab, c_.chat_template, chat_);
    }
    if (!chat_status_) {
      return Status::error("line " + std::to_string(number) + ": 'messages' needs a chat "
                           "template: " + chat_status_.message());
    }
    std::vector<ChatMessage> messages;
    for (const batch::ChatTurn& t : req.messages) messages.push_back({t.role, t.content});
    const std::string text = chat_->render(messages, true);
    out = tokenize_chat_prompt(*c_.tokenizer, text, c_.vocab->add_bos);
    if (out.empty()) out.push_back(c_.vocab->bos_id);
    end_of_turn = end_of_turn_token(*c_.tokenizer, *chat_);
    return Status::ok();
  }

  // Resume: each record already in the output stands for one line with its id.
  bool already_done(const json::Value& id) {
    auto it = c_.existing->ids.find(batch::id_key(id));
    if (it == c_.existing->ids.end() || it->second == 0) return false;
    --it->second;
    ++skipped_;
    return true;
  }

  Context c_;
  Status failure_;
  uint64_t next_ordinal_ = 0;
  uint64_t ok_ = 0, failed_ = 0, skipped_ = 0;
  std::map<uint64_t, Pending> pending_;  // ordinal -> the line of a job in flight
  bool chat_tried_ = false;
  Status chat_status_;
  std::optional<ChatTemplate> chat_;
};

uint64_t clock_seed() {
  const uint64_t t = static_cast<uint64_t>(
      std::chrono::high_resolution_clock::now().time_since_epoch().count());
  Rng mix(t);
  return mix.next_u64() & 0xffffffffull;
}

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

int no_close(std::FILE*) { return 0; }

}  // namespace

int cmd_batch(int argc, char** argv) {
  BatchOptions o;
  ArgParser parser(
      "batch", "loam batch [-m MODEL] [-i FILE|-] [-o FILE|-] [--parallel K] [--shard I/N] "
      "[options]",
      "Runs every line of a JSONL file, one request object per line, and writes one JSONL\n"
      "record per line in input order: id, line, text, tokens_prompt, tokens_generated,\n"
      "stop_reason (eos|length|stop|context|error), ms, and error for a line that failed.\n"
      "Input fields: id, prompt (or messages, a chat list), n_predict, temperature, top_k,\n"
      "top_p, min_p, repeat_penalty, repeat_last_n, seed, stop (a list of strings); the flags\n"
      "give their defaults. The model loads once and up to K lines are decoded together. A\n"
      "line without \"seed\" uses the seed (-s) plus its 0-based line index. Re-running with\n"
      "the same -o FILE skips the ids already in it. Exit status: 0 every line ok, 1 some\n"
      "failed, 130 interrupted.");
  add_options(parser, o);
  parser.epilog(
      "examples:\n"
      "  loam batch -m model.gguf -i prompts.jsonl -o results.jsonl --temp 0 -n 128\n"
      "  echo '{\"id\":\"a\",\"prompt\":\"Once upon a time\",\"n_predict\":32}' | loam batch -m "
      "model.gguf\n"
      "  loam batch -m model.gguf -i big.jsonl -o out.1.jsonl --shard 1/4 -s 7");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (Status st = check_sampling_options(o.sampling); !st) {
    return usage_error("batch", st.message());
  }
  uint64_t shard_index = 0, shard_count = 1;
  if (!o.shard.empty()) {
    if (Status st = parse_shard(o.shard, shard_index, shard_count); !st) {
      return usage_error("batch", st.message());
    }
  }
  uint64_t max_memory = 0;
  if (Status st = parse_max_memory(o.max_memory, max_memory); !st) {
    return usage_error("batch", st.message());
  }
  if (!o.chat_template.empty()) {
    ChatFamily family;
    if (Status st = resolve_chat_family("", o.chat_template, family); !st) {
      return usage_error("batch", st.message());
    }
  }
  if (o.model.empty()) {
    if (Status st = default_model_path(o.model); !st) return usage_error("batch", st.message());
  }
  if (Status st = select_isa(); !st) return runtime_error(st.message());

  FilePtr input(stdin, &no_close);
  if (o.input != "-") {
    input = FilePtr(std::fopen(o.input.c_str(), "rb"), &std::fclose);
    if (!input) return runtime_error(o.input + ": " + std::strerror(errno));
  }
  // Resume: what the output already holds (a torn last line is cut off here).
  batch::ExistingOutput existing;
  const bool to_stdout = o.output == "-";
  if (!to_stdout) {
    if (Status st = batch::scan_existing_output(o.output, existing); !st) {
      return runtime_error(st.message());
    }
  }
  const int64_t lines = count_lines(o.input);
  int64_t shard_lines = -1;
  if (lines >= 0) {
    const uint64_t l = static_cast<uint64_t>(lines);
    shard_lines = static_cast<int64_t>(l / shard_count + (shard_index < l % shard_count ? 1 : 0));
  }

  catch_interrupts();
  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  if (Status st = load_model_unpacked(o.model, o.tokenizer, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  if (Status st = require_vocab(*model, "batch"); !st) return runtime_error(st.message());
  // A Hugging Face checkpoint's generation_config.json defaults, as the other generating commands.
  apply_model_sampling_defaults(*model, parser, o.sampling);

  BatchPlan plan;
  SessionOptions asked;
  asked.n_ctx = o.n_ctx;
  asked.n_threads = o.n_threads;
  asked.cache_type_k = o.cache_k;
  asked.cache_type_v = o.cache_v;
  plan.options = Session::resolve(model->config, asked);
  plan.parallel = o.parallel;
  if (plan.parallel == 0 && shard_lines >= 0) {
    // No more sequences than lines left: the rest would only take memory.
    const int64_t left = std::max<int64_t>(shard_lines - static_cast<int64_t>(existing.records), 1);
    plan.max_parallel = static_cast<int>(std::min<int64_t>(plan.max_parallel, left));
  }
  plan.repack = !o.no_repack;
  plan.max_memory = max_memory;
  std::unique_ptr<MultiSession> session;
  double repack_ms = 0.0;
  if (Status st = create_multi_session_checked(model, plan, session, repack_ms); !st) {
    return runtime_error(st.message());
  }
  load_ms += repack_ms;
  if (interrupted()) {
    log_line("stop: interrupted by %s while loading", interrupt_name());
    return kExitInterrupted;
  }

  FilePtr output(stdout, &no_close);
  if (!to_stdout) {
    output = FilePtr(std::fopen(o.output.c_str(), "ab"), &std::fclose);
    if (!output) return runtime_error(o.output + ": " + std::strerror(errno));
  }

  log_line("model: %s, loaded in %.1f ms%s", o.model.c_str(), load_ms,
           describe_repack(*model).c_str());
  log_line("kernels: %s, threads: %d, context: %d per sequence, parallel: %d, %d tokens per "
           "step", kernels().isa, session->threads(), session->context_length(),
           session->sequences(), session->max_tokens_per_step());
  if (existing.records > 0 || existing.torn_bytes > 0) {
    log_line("resume: %llu records already in %s (%llu failed)%s",
             static_cast<unsigned long long>(existing.records), o.output.c_str(),
             static_cast<unsigned long long>(existing.failed),
             existing.torn_bytes > 0 ? "; a torn last line was cut off and will be redone" : "");
  }
  uint64_t base_seed = o.sampling.params.seed;
  if (!o.sampling.seed_given) {
    base_seed = clock_seed();
    log_line("seed: %llu (a line without its own seed uses this plus its 0-based line index)",
             static_cast<unsigned long long>(base_seed));
  }

  const Tokenizer tokenizer(model->vocab);
  batch::GenerationSettings defaults;
  defaults.n_predict = o.n_predict;
  defaults.repeat_last_n = o.sampling.repeat_last_n;
  defaults.sampling = o.sampling.params;
  defaults.stop = o.stop;
  batch::LineReader reader(input.get(), batch::InputLimits{}.max_line_bytes);
  batch::OrderedWriter writer(output.get());
  Feeder feeder(Feeder::Context{&reader, &writer, &tokenizer, &model->vocab, defaults,
                                batch::InputLimits{}, &existing, shard_index, shard_count,
                                session->context_length(), base_seed, o.model,
                                o.chat_template});

  batch::MultiSessionEngine engine(*session);
  batch::SchedulerStats stats;
  Progress progress;
  Stopwatch clock;
  batch::SchedulerHooks hooks;
  hooks.next_job = [&](batch::SequenceJob& job) { return feeder.next(job); };
  hooks.on_result = [&](batch::SequenceResult&& r) {
    progress.count_done();
    return feeder.on_result(std::move(r));
  };
  hooks.stop_requested = [] { return interrupted(); };
  hooks.is_end_of_generation = [&](int32_t id) { return tokenizer.is_eog(id); };
  hooks.piece_bytes = [&](int32_t id) { return tokenizer.piece_bytes(id); };
  hooks.after_step = [&] {
    progress.update(existing.records + writer.written(), shard_lines, stats.sampled_tokens,
                    clock.ms() / 1000.0);
  };
  const Status run_status = batch::run_scheduler(engine, hooks, stats);
  const double seconds = clock.ms() / 1000.0;
  progress.clear();

  const bool stopped = interrupted();
  const uint64_t failed_total = feeder.failed() + existing.failed;
  log_line("batch: %llu ok, %llu failed%s; %llu prompt + %llu generated tokens in %.2f s: "
           "%.2f generated tokens/s aggregate (parallel %d, threads %d)",
           static_cast<unsigned long long>(feeder.ok()),
           static_cast<unsigned long long>(feeder.failed()),
           feeder.skipped() > 0
               ? (", " + std::to_string(feeder.skipped()) + " already done").c_str()
               : "",
           static_cast<unsigned long long>(stats.prompt_tokens),
           static_cast<unsigned long long>(stats.generated_tokens), seconds,
           seconds > 0 ? stats.generated_tokens / seconds : 0.0, session->sequences(),
           session->threads());
  if (!run_status) return runtime_error(run_status.message());
  if (!feeder.failure().is_ok()) return runtime_error(feeder.failure().message());
  if (stopped) {
    log_line("stop: interrupted by %s; %llu records written, %zu finished lines after an "
             "unfinished one dropped; run the same command again to resume",
             interrupt_name(), static_cast<unsigned long long>(writer.written()),
             writer.waiting());
    return kExitInterrupted;
  }
  if (failed_total > 0) {
    return runtime_error(std::to_string(failed_total) + " of " +
                         std::to_string(feeder.ok() + feeder.failed() + existing.records) +
                         " lines failed (stop_reason \"error\" in their records)");
  }
  return kExitOk;
}

}  // namespace loam::cli
