// What the subcommands share: exit codes, the one-line error reports, finding and loading the
// model, reading the prompt, timing. Only src/cli prints or picks exit codes.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "loam/model.h"
#include "loam/status.h"

namespace loam::cli {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;  // the input or the machine let us down
constexpr int kExitUsage = 2;    // the command line is wrong

// The subcommands (one file each). argv[0] is "loam", argv[1] the subcommand.
int cmd_run(int argc, char** argv);
int cmd_info(int argc, char** argv);
// Prints CPU features, the kernel sets built and the one chosen (--version, info --cpu).
int print_cpu_report();
int cmd_tokenize(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_batch(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);

// "loam: error: MESSAGE" on stderr (newlines in MESSAGE become spaces); returns kExitRuntime.
int runtime_error(const std::string& message);
// "loam: error: MESSAGE (see 'loam COMMAND --help')"; returns kExitUsage.
int usage_error(const std::string& command, const std::string& message);
// Handles a parse outcome: prints help (stdout, returns kExitOk) or the error (kExitUsage).
// Returns -1 when parsing succeeded and the command should go on.
int finish_parse(const ArgParser& parser, ArgParser::Outcome outcome);

// An informational line on stderr (logs, timings); never on stdout.
void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

// The model path when -m was not given: $LOAM_MODEL, then the single .gguf in ./models/.
// Fails with a message that says how to get a model.
Status default_model_path(std::string& out);

// Picks the kernel table ($LOAM_ISA); its error names the variable.
Status select_isa();

// Loads the model, timing it (milliseconds). `repack`: interleave weights for faster kernels
// (LoadOptions::interleave); commands that do not compute with the weights pass false.
Status load_model_timed(const std::string& path, const std::string& tokenizer_path, bool repack,
                        std::shared_ptr<Model>& out, double& ms);

// The same, except that a vocab-only GGUF (tokenizer keys, no tensors) loads as a Model with a
// vocabulary and no weights instead of failing on the first missing tensor (tokenize, info).
Status load_model_or_vocab_timed(const std::string& path, const std::string& tokenizer_path,
                                 std::shared_ptr<Model>& out, double& ms);

// "; repacked 580.1 MiB of weights for faster kernels" or "" (for the load log line).
std::string describe_repack(const Model& model);

// A text model needs a vocabulary; a llama2.c checkpoint without --tokenizer has none.
Status require_vocab(const Model& model, const std::string& command);

// Whole file as bytes; "-" reads stdin.
Status read_file_text(const std::string& path, std::string& out);

// Parses "1,2,3" (commas and/or blanks between ids) into ids >= 0.
Status parse_token_list(const std::string& text, std::vector<int32_t>& out);

// "12.3 MiB", "880 KiB", "512 B".
std::string format_bytes(double bytes);
// "1.10 B", "15.2 M", "260 K".
std::string format_count(double count);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace loam::cli
