// `loam chat`: an interactive conversation with an instruction model. Each line read is a user
// message; the answer streams to stdout. Earlier turns stay in the KV cache (ChatConversation), so
// a turn evaluates only its own tokens. Ctrl-C stops the answer being written, not the program.
//
// On a terminal the user gets a "> " prompt. When stdin is not a terminal the command is a
// filter: one message per input line, one answer per output line (a newline inside an answer
// written as \n, a backslash as \\), no prompt, nothing but answers on stdout, so a script can
// pair lines. A command line (/reset, /help) or an empty line then gives an empty output line.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/chat_setup.h"
#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/sampling_options.h"
#include "cli/session_setup.h"
#include "kernels/kernels.h"
#include "loam/sampler.h"
#include "loam/session.h"
#include "loam/tokenizer.h"
#include "model/chat_conversation.h"
#include "sample/stop_strings.h"

namespace loam::cli {

namespace {

constexpr int kIntMax = std::numeric_limits<int>::max();

struct ChatOptions {
  std::string model;
  std::string system;
  std::string chat_template;
  std::string tokenizer;
  int n_predict = -1;  // per answer; -1: until the end of the turn or a full context
  int n_ctx = 0;
  int n_threads = 0;
  bool no_repack = false;
  std::string max_memory;
  DType cache_k = kDefaultCacheType, cache_v = kDefaultCacheType;
  SamplingOptions sampling;
};

const char* const kHelpText =
    "commands: /reset forgets the conversation (the system prompt stays), /exit ends the chat,\n"
    "/help shows this. Ctrl-C stops an answer; Ctrl-C at the prompt or Ctrl-D ends the chat.";

// Writes answers to stdout as they come. In line mode (stdin not a terminal) the answer must stay
// on one line: newlines become the two characters \n and backslashes \\, so the escaping can be
// undone.
class AnswerWriter {
 public:
  explicit AnswerWriter(bool line_mode) : line_mode_(line_mode) {}
  void write(const std::string& text) {
    if (text.empty()) return;
    std::string out;
    if (line_mode_) {
      out.reserve(text.size());
      for (char c : text) {
        if (c == '\n') {
          out += "\\n";
        } else if (c == '\\') {
          out += "\\\\";
        } else {
          out += c;
        }
      }
    }
    const std::string& bytes = line_mode_ ? out : text;
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    std::fflush(stdout);
  }
  void end_line() {
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  bool line_mode_;
};

// One line from stdin without its line ending. False at end of input or when a signal
// interrupted the read (interrupted() says which).
bool read_line(std::string& line) {
  line.clear();
  for (;;) {
    const int c = std::fgetc(stdin);
    if (c == EOF) {
      if (std::ferror(stdin) && errno == EINTR && !interrupted()) {
        std::clearerr(stdin);  // a signal we do not handle (SIGWINCH): read on
        continue;
      }
      if (!line.empty() && !std::ferror(stdin)) return true;  // last line without '\n'
      return false;
    }
    if (c == '\n') break;
    line += static_cast<char>(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

struct AnswerOutcome {
  std::string text;           // the answer as printed (end-of-turn text excluded)
  bool cache_matches = true;  // see ChatConversation::finish_turn
  bool interrupted = false;
  bool context_full = false;
  int n_tokens = 0;
};

// Samples and streams one answer. Every printed token is evaluated before the next is sampled, so
// the cache ends holding the whole answer; the end-of-generation token is not evaluated (the next
// turn's prompt text begins with the end-of-turn text).
Status generate_answer(Session& session, Sampler& sampler, const Tokenizer& tokenizer,
                       int32_t end_of_turn_id, const std::string& end_of_turn_text, int n_predict,
                       int32_t prev, AnswerWriter& writer, AnswerOutcome& out) {
  const int n_vocab = session.model().config.n_vocab;
  StreamDecoder decoder(tokenizer);
  // The end-of-turn text as text too: a model can spell it in several tokens when the vocabulary
  // has no single token for it (a template forced with --chat-template).
  StopMatcher stop({end_of_turn_text});
  auto emit = [&](const std::string& text) {
    out.text += text;
    writer.write(text);
  };
  while (n_predict < 0 || out.n_tokens < n_predict) {
    if (interrupted()) {
      out.interrupted = true;
      break;
    }
    const int32_t id = sampler.sample(session.logits(), n_vocab);
    if (tokenizer.is_eog(id) || id == end_of_turn_id) break;
    sampler.accept(id);
    emit(stop.push(decoder.push(prev, id)));
    if (stop.stopped()) {
      out.cache_matches = false;  // the cache holds the first tokens of the end-of-turn text
      return Status::ok();
    }
    ++out.n_tokens;
    if (session.position() >= session.context_length()) {
      out.context_full = true;
      out.cache_matches = false;  // the last token could not go in
      break;
    }
    LOAM_TRY(session.eval(&id, 1));
    prev = id;
  }
  emit(stop.push(decoder.flush()));
  emit(stop.flush());
  return Status::ok();
}

void add_options(ArgParser& p, ChatOptions& o) {
  p.text("-m", "--model", "FILE", "model: GGUF file (or llama2.c checkpoint with --tokenizer and "
         "--chat-template)", &o.model);
  p.text("", "--system", "TEXT", "system prompt, kept for the whole conversation", &o.system);
  p.text("", "--chat-template", "NAME", "prompt format instead of the one detected from the "
         "model: " + chat_family_names(), &o.chat_template);
  p.integer("-n", "--n-predict", "N", "most tokens per answer; -1 = until the end of the turn "
            "(default -1)", &o.n_predict, -1, kIntMax);
  p.integer("-c", "--ctx-size", "N", "context length; 0 = min(model context, 4096) (default 0)",
            &o.n_ctx, 0, kIntMax);
  p.integer("-t", "--threads", "N", "threads (default: physical cores available)", &o.n_threads,
            1, 4096);
  add_sampling_options(p, o.sampling);
  p.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint", &o.tokenizer);
  p.flag("", "--no-repack", "keep every weight in the file's layout (same output, slower Q4_0 "
         "on AVX2)", &o.no_repack);
  add_cache_type_options(p, &o.cache_k, &o.cache_v);
  add_max_memory_option(p, &o.max_memory);
}

// "/word": a command, known or not. "/usr/bin is a directory?" is a message.
bool looks_like_command(const std::string& line) {
  if (line.size() < 2 || line[0] != '/') return false;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] < 'a' || line[i] > 'z') return false;
  }
  return true;
}

// Room kept for an answer when a turn is planned: -n when given, else a quarter of the context,
// and never more than half of it (so a long -n does not drop the whole conversation).
int answer_room(int n_predict, int n_ctx) {
  const int wanted = n_predict >= 0 ? n_predict : n_ctx / 4;
  return std::max(1, std::min(wanted, n_ctx / 2));
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  ChatOptions o;
  ArgParser parser(
      "chat", "loam chat [-m MODEL] [--system TEXT] [--chat-template NAME] [options]",
      "Talks with an instruction model: each line you type is a message, the answer streams to\n"
      "stdout. Earlier turns stay in the KV cache; when the context fills, the oldest turns are\n"
      "dropped (the system prompt is kept). With stdin not a terminal, each input line gets one\n"
      "output line (newlines in an answer written as \\n, backslashes as \\\\).");
  add_options(parser, o);
  parser.epilog(std::string(kHelpText) +
                "\n\nexamples:\n"
                "  loam chat -m Llama-3.2-1B-Instruct-Q4_K_M.gguf --system \"Be brief.\"\n"
                "  printf 'Hi!\\nWhat is 2+2?\\n' | loam chat -m model.gguf --temp 0 -n 64");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (Status st = check_sampling_options(o.sampling); !st) {
    return usage_error("chat", st.message());
  }
  if (!o.chat_template.empty()) {
    ChatFamily family = ChatFamily::ChatML;
    if (Status st = resolve_chat_family("", o.chat_template, family); !st) {
      return usage_error("chat", st.message());
    }
  }
  uint64_t max_memory = 0;
  if (Status st = parse_max_memory(o.max_memory, max_memory); !st) {
    return usage_error("chat", st.message());
  }
  if (o.model.empty()) {
    if (Status st = default_model_path(o.model); !st) return usage_error("chat", st.message());
  }
  if (Status st = select_isa(); !st) return runtime_error(st.message());
  catch_interrupts();

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  if (Status st = load_model_unpacked(o.model, o.tokenizer, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  if (Status st = require_vocab(*model, "chat"); !st) return runtime_error(st.message());
  std::optional<ChatTemplate> chat_template;
  if (Status st = make_chat_template(o.model, model->vocab, o.chat_template, chat_template); !st) {
    return runtime_error(st.message());
  }

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
  if (interrupted()) return kExitInterrupted;
  const int n_ctx = session->context_length();

  const Tokenizer tokenizer(model->vocab);
  const int32_t end_of_turn_id = end_of_turn_token(tokenizer, *chat_template);
  const bool line_mode = isatty(STDIN_FILENO) == 0;
  log_line("model: %s, loaded in %.1f ms", o.model.c_str(), load_ms + repack_ms);
  log_line("kernels: %s, threads: %d, context: %d, chat template: %s (turns end with %s)",
           kernels().isa, session->threads(), n_ctx, chat_template->name(),
           chat_template->end_of_turn().c_str());
  apply_model_sampling_defaults(*model, parser, o.sampling);
  Sampler sampler(resolve_sampling_options(o.sampling, n_ctx));
  if (!line_mode) log_line("%s", kHelpText);

  ChatConversation chat(*session, tokenizer, *chat_template, model->vocab.add_bos, o.system);
  AnswerWriter writer(line_mode);
  const int room = answer_room(o.n_predict, n_ctx);
  std::string line;
  for (;;) {
    if (!line_mode) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!read_line(line)) {
      if (interrupted()) {
        if (!line_mode) std::fputc('\n', stdout);
        return kExitInterrupted;
      }
      if (!line_mode) std::fputc('\n', stdout);  // Ctrl-D: leave the terminal on a new line
      return kExitOk;
    }
    if (line == "/exit" || line == "/quit") return kExitOk;
    if (line == "/reset" || line == "/help" || line.empty()) {
      if (line == "/reset") {
        chat.reset();
        sampler.reset();
        log_line("conversation reset%s", o.system.empty() ? "" : " (system prompt kept)");
      } else if (line == "/help") {
        log_line("%s", kHelpText);
      }
      if (line_mode) writer.end_line();  // one output line per input line
      continue;
    }
    if (looks_like_command(line)) {
      log_line("unknown command '%s' (/help lists them); to send it as a message, start it with "
               "a space", line.c_str());
      if (line_mode) writer.end_line();
      continue;
    }

    ChatConversation::TurnPlan turn;
    if (Status st = chat.plan_turn(line, room, turn); !st) {
      // The conversation goes on: the message is not sent.
      log_line("loam: error: %s", st.message().c_str());
      if (line_mode) writer.end_line();
      continue;
    }
    if (turn.dropped_turns > 0) {
      const std::string what = turn.dropped_turns == 1
                                   ? std::string("oldest turn")
                                   : std::to_string(turn.dropped_turns) + " oldest turns";
      log_line("context full: dropped the %s%s, evaluating the %d tokens kept", what.c_str(),
               o.system.empty() ? "" : " (system prompt kept)",
               static_cast<int>(turn.tokens.size()));
    }
    bool evaluated = false;
    if (Status st = chat.evaluate(turn, [] { return interrupted(); }, evaluated); !st) {
      return runtime_error(st.message());
    }
    AnswerOutcome answer;
    if (evaluated) {
      for (int32_t id : turn.tokens) sampler.accept(id);
      const int32_t prev = turn.tokens.back();
      if (Status st = generate_answer(*session, sampler, tokenizer, end_of_turn_id,
                                      chat_template->end_of_turn(), o.n_predict, prev, writer,
                                      answer);
          !st) {
        writer.end_line();
        return runtime_error(st.message());
      }
    }
    writer.end_line();
    if (std::ferror(stdout)) return runtime_error("writing the answer to stdout failed");
    if (!evaluated || answer.interrupted) {
      // SIGTERM asks the program to end; Ctrl-C only stops this answer.
      if (std::string(interrupt_name()) == "SIGTERM") return kExitInterrupted;
      log_line("(stopped)");
      rearm_interrupts();
    }
    if (answer.context_full) {
      log_line("the context is full (%d tokens): the oldest turns will be dropped next turn",
               n_ctx);
    }
    if (evaluated) chat.finish_turn(std::move(turn), std::move(answer.text), answer.cache_matches);
  }
}

}  // namespace loam::cli
