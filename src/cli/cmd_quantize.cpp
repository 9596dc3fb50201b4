// `loam quantize IN OUT TYPE`: writes a quantized (or F16/BF16/F32) GGUF copy of an F32/F16/BF16
// GGUF file or a llama2.c checkpoint, choosing each tensor's type as llama.cpp's llama-quantize
// does. Progress goes to stderr: one line per tensor, plus a percentage for large tensors when
// stderr is a terminal (carriage returns only, no escape codes).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "quant/quantize_model.h"

namespace loam::cli {

namespace {

std::string shape_of(const QuantizeProgress& p) {
  std::string s = "[";
  for (int d = 0; d < (p.n_dims < 1 ? 1 : p.n_dims) && d < 4; ++d) {
    s += (d ? ", " : "") + std::to_string(p.ne[d]);
  }
  return s + "]";
}

// Prints the progress events: a line per finished tensor; on a terminal also the running
// percentage of the tensor being converted, rewritten in place with '\r'.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool terminal) : terminal_(terminal) {}

  void operator()(const QuantizeProgress& p) {
    const int width = static_cast<int>(std::to_string(p.count).size());
    char head[96];
    std::snprintf(head, sizeof head, "[%*zu/%zu]", width, p.index + 1, p.count);
    if (!p.done) {
      if (!terminal_) return;
      const int percent = static_cast<int>(p.fraction * 100.0);
      if (percent == last_percent_) return;
      last_percent_ = percent;
      std::fprintf(stderr, "\r%s %-32s %3d%%", head, p.name.c_str(), percent);
      std::fflush(stderr);
      pending_ = true;
      return;
    }
    last_percent_ = -1;
    const std::string what =
        p.converted ? std::string(dtype_name(p.from)) + " -> " + dtype_name(p.to) +
                          (p.fallback ? " (fallback)" : "")
                    : std::string(dtype_name(p.to)) + " (copied)";
    // A trailing run of spaces wipes what is left of an in-place percentage line.
    std::fprintf(stderr, "%s%s %-32s %-16s %-24s %10s -> %s%s\n", pending_ ? "\r" : "", head,
                 p.name.c_str(), shape_of(p).c_str(), what.c_str(),
                 format_bytes(static_cast<double>(p.bytes_in)).c_str(),
                 format_bytes(static_cast<double>(p.bytes_out)).c_str(), pending_ ? "    " : "");
    pending_ = false;
  }

  // Ends an unfinished percentage line (before an error message).
  void finish_line() {
    if (pending_) std::fputc('\n', stderr);
    pending_ = false;
  }

 private:
  bool terminal_;
  bool pending_ = false;     // an unfinished '\r' line is on screen
  int last_percent_ = -1;
};

}  // namespace

int cmd_quantize(int argc, char** argv) {
  std::string tokenizer_path;
  int n_threads = 0;
  bool refine = false;
  std::vector<std::string> positionals;
  ArgParser parser(
      "quantize", "loam quantize IN OUT TYPE [--tokenizer FILE] [-t N]",
      "Writes OUT, a GGUF copy of the model IN with its weights converted to TYPE. IN is an\n"
      "F32, F16 or BF16 GGUF file or a llama2.c checkpoint (give its tokenizer.bin with\n"
      "--tokenizer; the vocabulary is stored in OUT). Each tensor's type is chosen as\n"
      "llama.cpp's llama-quantize does: norms stay F32; in the quantized types output.weight\n"
      "gets Q6_K; Q4_K_M and Q5_K_M give attn_v and ffn_down Q6_K in the first and last\n"
      "eighth of the layers and every third layer between; rows whose length does not fit a\n"
      "256-element block fall back to Q5_0, Q5_1 or Q8_0. The blocks are quantized as\n"
      "llama-quantize does (same bytes, unless --refine). Metadata is kept, with\n"
      "general.file_type updated. OUT is written as OUT.tmp and renamed when complete.\n"
      "TYPE: " + file_type_names() + " (Q4_K and Q5_K mean Q4_K_M and Q5_K_M).");
  parser.positionals("IN OUT TYPE", "input model, output file, target type", &positionals, 3);
  parser.text("", "--tokenizer", "FILE",
              "llama2.c tokenizer.bin whose vocabulary to embed (llama2.c input)",
              &tokenizer_path);
  parser.integer("-t", "--threads", "N", "threads (default: physical cores available)",
                 &n_threads, 1, 4096);
  parser.flag("", "--refine",
              "K types: refine the sub-block scales after llama.cpp's search (2-4% lower RMS "
              "error; the bytes then differ from llama-quantize's)",
              &refine);
  parser.epilog("examples:\n"
                "  loam quantize model-f16.gguf model-Q4_K_M.gguf Q4_K_M\n"
                "  loam quantize models/stories15M.bin stories15M-Q8_0.gguf Q8_0 "
                "--tokenizer models/tokenizer.bin");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;
  if (positionals.size() != 3) {
    return usage_error("quantize", "expected IN OUT TYPE, got " +
                                       std::to_string(positionals.size()) + " argument(s)");
  }
  const std::string& in = positionals[0];
  const std::string& out = positionals[1];
  QuantizeOptions options;
  if (!parse_file_type(positionals[2], options.file_type)) {
    return usage_error("quantize", "unknown TYPE '" + positionals[2] + "'; expected one of " +
                                       file_type_names());
  }
  options.tokenizer_path = tokenizer_path;
  options.n_threads = n_threads;
  options.refine_k = refine;
  ProgressPrinter printer(isatty(STDERR_FILENO) == 1);
  options.progress = [&printer](const QuantizeProgress& p) { printer(p); };
  // Ctrl-C or SIGTERM stops the conversion within a chunk; quantize_model then removes OUT.tmp.
  catch_interrupts();
  options.stop = [] { return interrupted(); };

  Stopwatch clock;
  QuantizeResult result;
  if (Status st = quantize_model(in, out, options, &result); !st) {
    printer.finish_line();
    if (interrupted()) {
      log_line("loam: interrupted by %s: %s not written, no %s.tmp left", interrupt_name(),
               out.c_str(), out.c_str());
      return kExitInterrupted;
    }
    return runtime_error(st.message());
  }
  const std::string fallbacks =
      result.n_fallback > 0 ? ", " + std::to_string(result.n_fallback) + " with fallback types"
                            : "";
  log_line("wrote %s: %s, %zu tensors (%zu converted%s), %s -> %s in %.1f s with %d thread%s",
           out.c_str(), file_type_name(options.file_type), result.n_tensors, result.n_converted,
           fallbacks.c_str(), format_bytes(static_cast<double>(result.bytes_in)).c_str(),
           format_bytes(static_cast<double>(result.bytes_out)).c_str(), clock.ms() / 1000.0,
           result.n_threads, result.n_threads == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace loam::cli
