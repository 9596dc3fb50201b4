// `loam run`: tokenize the prompt, evaluate it, then sample and stream tokens until an
// end-of-generation token, a --stop string, -n tokens or the end of the context. Only the
// generated text goes to stdout (the prompt too with --echo); everything else (model line, seed,
// timings) goes to stderr.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/sampling_options.h"
#include "cli/session_setup.h"
#include "kernels/kernels.h"
#include "loam/sampler.h"
#include "loam/session.h"
#include "loam/tokenizer.h"
#include "sample/stop_strings.h"

namespace loam::cli {

namespace {

constexpr int kIntMax = std::numeric_limits<int>::max();

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string tokenizer;
  int n_predict = -1;      // -1: until EOS or the context is full
  int n_ctx = 0;           // 0: min(model context, 4096)
  int n_threads = 0;       // 0: physical cores available
  bool echo = false;
  bool no_repack = false;
  std::string max_memory;  // --max-memory text; "" = what the system has available
  DType cache_k = kDefaultCacheType, cache_v = kDefaultCacheType;
  std::vector<std::string> stop;  // --stop, repeatable
  SamplingOptions sampling;  // --temp, --top-k, ..., -s
};

// Text goes out as soon as it is decoded so a reader of the pipe sees it stream. A reader that
// has gone away (`| head -c 10`) ends the process through SIGPIPE at the next write; where
// SIGPIPE is ignored, the write fails and generation stops (see the loop).
void emit(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string describe_model(const Model& m) {
  const ModelConfig& c = m.config;
  std::string weights = "?";
  if (!m.layers.empty()) weights = dtype_name(m.layers[0].wq.type);
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s %s, %s, %d layers, dim %d, vocab %d, %s weights",
                m.format.c_str(),
                m.format == "gguf" ? ("v" + std::to_string(m.format_version)).c_str() : "checkpoint",
                c.arch.c_str(), c.n_layer, c.n_embd, c.n_vocab, weights.c_str());
  return buf;
}

void add_options(ArgParser& p, RunOptions& o) {
  p.text("-m", "--model", "FILE", "model: GGUF file or llama2.c checkpoint (.bin)", &o.model);
  p.text("-p", "--prompt", "TEXT", "prompt to continue (default: empty, i.e. just BOS)",
         &o.prompt);
  p.text("-f", "--file", "FILE", "read the prompt from FILE ('-' = stdin); one trailing newline "
         "is dropped", &o.prompt_file);
  p.integer("-n", "--n-predict", "N", "tokens to generate; -1 = until EOS or the context is full "
            "(default -1)", &o.n_predict, -1, kIntMax);
  p.integer("-c", "--ctx-size", "N", "context length; 0 = min(model context, 4096) (default 0)",
            &o.n_ctx, 0, kIntMax);
  p.integer("-t", "--threads", "N", "threads (default: physical cores available)", &o.n_threads,
            1, 4096);
  add_sampling_options(p, o.sampling);
  p.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint", &o.tokenizer);
  p.custom("", "--stop", "STR", "stop before the first STR in the generated text; repeatable "
           "(the text ends before it, even when it spans tokens)",
           [&o](const std::string& v) {
             if (v.empty()) return Status::error("--stop expects a non-empty string");
             o.stop.push_back(v);
             return Status::ok();
           });
  p.flag("", "--echo", "print the prompt before the generated text", &o.echo);
  p.flag("", "--no-repack", "keep every weight in the file's layout: no copy at load, slower "
         "Q4_0 on AVX2 (same output)", &o.no_repack);
  add_cache_type_options(p, &o.cache_k, &o.cache_v);
  add_max_memory_option(p, &o.max_memory);
}

}  // namespace

int cmd_run(int argc, char** argv) {
  RunOptions o;
  ArgParser parser(
      "run", "loam run [-m MODEL] [-p TEXT | -f FILE] [-n N] [options]",
      "Generates a continuation of the prompt and streams it to stdout, stopping at an end-of-\n"
      "generation token, before a --stop string, after N tokens, or when the context is full.\n"
      "Logs, the seed and timings go to stderr. Without -m: $LOAM_MODEL, else the single .gguf\n"
      "file in ./models/.");
  add_options(parser, o);
  parser.epilog(
      "examples:\n"
      "  loam run -m model.gguf -p \"The capital of France is\" --temp 0\n"
      "  loam run -m models/stories15M.bin --tokenizer models/tokenizer.bin -p \"Once upon a "
      "time\" -n 200 -s 42\n"
      "  loam run -m model.gguf -p \"Q: What is 2+2?\\nA:\" --stop \"\\nQ:\" --stop \"\\n\\n\"\n"
      "  echo \"Once upon a time\" | loam run -m model.gguf -f - --temp 0");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (parser.given("--prompt") && parser.given("--file")) {
    return usage_error("run", "give the prompt with -p or -f, not both");
  }
  // Checked now, before a possibly long load.
  if (Status st = check_sampling_options(o.sampling); !st) return usage_error("run", st.message());
  uint64_t max_memory = 0;
  if (Status st = parse_max_memory(o.max_memory, max_memory); !st) {
    return usage_error("run", st.message());
  }
  if (o.model.empty()) {
    if (Status st = default_model_path(o.model); !st) return usage_error("run", st.message());
  }
  if (Status st = select_isa(); !st) return runtime_error(st.message());
  // From here Ctrl-C or SIGTERM ends the run between two steps, with the statistics so far.
  catch_interrupts();

  std::string prompt = o.prompt;
  if (parser.given("--file")) {
    if (Status st = read_file_text(o.prompt_file, prompt); !st) {
      if (interrupted()) return kExitInterrupted;  // Ctrl-C while reading a terminal
      return runtime_error(st.message());
    }
    // Files and `echo` end with a newline the user did not mean as part of the prompt
    // (llama.cpp drops it too).
    if (!prompt.empty() && prompt.back() == '\n') prompt.pop_back();
  }

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  if (Status st = load_model_unpacked(o.model, o.tokenizer, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  if (Status st = require_vocab(*model, "run"); !st) return runtime_error(st.message());

  SessionPlan plan;
  plan.options.n_ctx = o.n_ctx;
  plan.options.n_threads = o.n_threads;
  plan.options.cache_type_k = o.cache_k;
  plan.options.cache_type_v = o.cache_v;
  plan.repack = !o.no_repack;
  plan.max_memory = max_memory;
  std::unique_ptr<Session> session;
  double repack_ms = 0.0;
  if (Status st = create_session_checked(model, plan, session, repack_ms); !st) {
    return runtime_error(st.message());
  }
  load_ms += repack_ms;
  if (interrupted()) {
    log_line("stop: interrupted by %s while loading", interrupt_name());
    return kExitInterrupted;
  }
  const int n_ctx = session->context_length();
  const int n_vocab = model->config.n_vocab;

  const Tokenizer tokenizer(model->vocab);
  std::vector<int32_t> tokens = tokenizer.encode(prompt, model->vocab.add_bos);
  // Generation needs at least one token to condition on; a model that adds no BOS gets one here.
  if (tokens.empty()) tokens.push_back(model->vocab.bos_id);
  const int n_prompt = static_cast<int>(tokens.size());
  if (n_prompt > n_ctx) {
    return runtime_error("the prompt is " + std::to_string(n_prompt) +
                         " tokens, longer than the context of " + std::to_string(n_ctx) +
                         " tokens (-c)");
  }
  if (n_prompt == n_ctx && o.n_predict != 0) {
    return runtime_error("the prompt is " + std::to_string(n_prompt) +
                         " tokens and fills the whole context of " + std::to_string(n_ctx) +
                         " tokens: no room to generate (raise -c)");
  }

  // Logs start once the inputs are known to be usable, so a bad model, prompt or option gives
  // nothing on stderr but its error line.
  log_line("model: %s (%s), loaded in %.1f ms%s", o.model.c_str(), describe_model(*model).c_str(),
           load_ms, describe_repack(*model).c_str());
  if (!o.tokenizer.empty() && model->format == "gguf") {
    log_line("note: --tokenizer ignored: a GGUF file carries its own vocabulary");
  }
  log_line("kernels: %s, threads: %d, context: %d", kernels().isa, session->threads(), n_ctx);
  apply_model_sampling_defaults(*model, parser, o.sampling);
  Sampler sampler(resolve_sampling_options(o.sampling, n_ctx));
  for (int32_t id : tokens) sampler.accept(id);

  // --echo prints the prompt as given: decoding its tokens would add the space prefix the
  // tokenizer inserted and could differ for text the vocabulary cannot represent exactly.
  if (o.echo) emit(prompt);
  StreamDecoder decoder(tokenizer);
  // Decoded text passes through the stop matcher, which holds back a tail that could begin a
  // stop string until the next token decides it.
  StopMatcher stop_matcher(o.stop);
  int32_t prev = tokens.back();

  // The prompt goes in pieces of the session's batch, the pieces eval() would cut it into
  // anyway (so the result is the same), to look for an interruption between them.
  Stopwatch prompt_clock;
  int n_evaluated = 0;
  while (n_evaluated < n_prompt && !interrupted()) {
    const int n = std::min(session->max_batch(), n_prompt - n_evaluated);
    if (Status st = session->eval(tokens.data() + n_evaluated, n); !st) {
      return runtime_error(st.message());
    }
    n_evaluated += n;
  }
  const double prompt_ms = prompt_clock.ms();

  // Each generated token is printed when sampled; it is evaluated only if another one follows,
  // so the KV cache never holds more than prompt + generated - 1 positions.
  const int room = n_ctx - n_prompt;
  const int max_new = o.n_predict < 0 ? room : std::min(o.n_predict, room);
  bool hit_eos = false;
  int n_generated = 0;
  Stopwatch gen_clock;
  double first_token_ms = 0.0;
  while (n_generated < max_new && !interrupted()) {
    const int32_t id = sampler.sample(session->logits(), n_vocab);
    // Every end-of-generation id stops (EOS, and EOT/EOM/end-of-turn where the vocab has them).
    if (tokenizer.is_eog(id)) {
      hit_eos = true;
      break;
    }
    sampler.accept(id);
    emit(stop_matcher.push(decoder.push(prev, id)));
    if (std::ferror(stdout)) break;  // nobody reads the text any more
    prev = id;
    ++n_generated;
    if (n_generated == 1) first_token_ms = gen_clock.ms();
    if (stop_matcher.stopped()) break;
    if (n_generated < max_new) {
      if (Status st = session->eval(&prev, 1); !st) {
        emit(stop_matcher.push(decoder.flush()));
        emit(stop_matcher.flush());
        emit("\n");
        return runtime_error(st.message());
      }
    }
  }
  const double gen_ms = gen_clock.ms();
  emit(stop_matcher.push(decoder.flush()));
  emit(stop_matcher.flush());  // "" after a stop string: nothing after it is printed
  emit("\n");
  const bool stopped = interrupted();
  if (std::ferror(stdout) && !stopped) {
    return runtime_error("writing the generated text to stdout failed");
  }
  const std::string stop = stopped      ? std::string("interrupted by ") + interrupt_name()
                           : hit_eos    ? "end of sequence"
                           : stop_matcher.stopped() ? "stop string"
                           : n_generated == o.n_predict ? "n-predict reached"
                                                        : "context full";

  if (n_evaluated < n_prompt) {
    log_line("prompt: %d of %d tokens in %.1f ms", n_evaluated, n_prompt, prompt_ms);
  } else {
    log_line("prompt: %d tokens in %.1f ms (%.2f tokens/s)", n_prompt, prompt_ms,
             prompt_ms > 0 ? n_prompt * 1000.0 / prompt_ms : 0.0);
  }
  // Steady-state speed: tokens 2..N each cost one decode step plus sampling; the first token
  // only cost sampling after the prompt, so it is left out of the rate.
  const double decode_ms = gen_ms - first_token_ms;
  if (n_generated >= 2 && decode_ms > 0) {
    log_line("generation: %d tokens in %.1f ms (%.2f tokens/s over %d decode steps)",
             n_generated, gen_ms, (n_generated - 1) * 1000.0 / decode_ms, n_generated - 1);
  } else {
    log_line("generation: %d tokens in %.1f ms", n_generated, gen_ms);
  }
  log_line("stop: %s", stop.c_str());
  return stopped ? kExitInterrupted : kExitOk;
}

}  // namespace loam::cli
