// `loam <subcommand> [options]`: the subcommand table and top-level flags. Each subcommand lives in
// its own cmd_<name>.cpp and parses its own options.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "cli/cli.h"
#include "kernels/kernels.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"run", "generate text from a prompt (streams to stdout)", loam::cli::cmd_run},
    {"chat", "talk with an instruction model (chat templates, KV cache kept between turns)",
     loam::cli::cmd_chat},
    {"info", "show a model's architecture, hyperparameters, vocab and tensors", loam::cli::cmd_info},
    {"tokenize", "show the tokens a text becomes", loam::cli::cmd_tokenize},
    {"logits", "write the logits of given token ids to a float32 file", loam::cli::cmd_logits},
    {"quantize", "write a quantized GGUF copy of a model (Q4_K_M, Q8_0, ...)", loam::cli::cmd_quantize},
    {"convert", "write a GGUF file from a Hugging Face checkpoint directory", loam::cli::cmd_convert},
    {"perplexity", "score a text (llama-perplexity's windows); KL divergence against a base model",
     loam::cli::cmd_perplexity},
    {"batch", "run a JSONL file of prompts, many at once (resumable, in input order)",
     loam::cli::cmd_batch},
    {"bench", "measure prompt and generation speed (llama-bench's tests; --synthetic: no download)",
     loam::cli::cmd_bench},
};

void print_help(FILE* out) {
  std::fprintf(out,
               "loam %s: LLaMA-family inference on the CPU (GGUF and llama2.c models)\n\n"
               "usage: loam <command> [options]\n"
               "       loam <command> --help\n"
               "       loam --version\n\ncommands:\n",
               LOAM_VERSION);
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nexample:\n"
               "  loam run -m models/stories15M.bin --tokenizer models/tokenizer.bin "
               "-p \"Once upon a time\"\n"
               "\nexit status: 0 success, 1 runtime error, 2 usage error.\n"
               "environment: LOAM_MODEL (default model for run), LOAM_ISA=scalar|avx2|avx512|neon "
               "(force a kernel set).\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace loam::cli;
  if (argc < 2) {
    print_help(stderr);
    return kExitUsage;
  }
  const std::string first = argv[1];
  if (first == "-h" || first == "--help") {
    print_help(stdout);
    return kExitOk;
  }
  if (first == "--version" || first == "-v") {
    // A bad LOAM_ISA is reported alone, before anything reaches stdout.
    if (loam::Status st = loam::select_kernels(); !st) return runtime_error(st.message());
    std::printf("loam %s\n", LOAM_VERSION);
    return print_cpu_report();
  }
  if (first == "help") {
    // `loam help run` is `loam run --help`.
    if (argc < 3) {
      print_help(stdout);
      return kExitOk;
    }
    for (const Command& c : kCommands) {
      if (std::strcmp(argv[2], c.name) == 0) {
        char help_flag[] = "--help";
        char* args[] = {argv[0], argv[2], help_flag, nullptr};
        return c.run(3, args);
      }
    }
    return usage_error("", std::string("unknown command '") + argv[2] + "'");
  }
  for (const Command& c : kCommands) {
    if (first != c.name) continue;
    try {
      return c.run(argc, argv);
    } catch (const std::bad_alloc&) {
      return runtime_error("out of memory");
    } catch (const std::exception& e) {
      return runtime_error(e.what());
    }
  }
  if (!first.empty() && first[0] == '-') {
    return usage_error("", "unknown option '" + first + "' before the command");
  }
  return usage_error("", "unknown command '" + first + "'");
}
