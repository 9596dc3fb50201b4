// `loam convert DIR OUT.gguf [TYPE]`: writes the GGUF file llama.cpp's convert_hf_to_gguf.py
// would make of a Hugging Face checkpoint (same keys, tensor names, Q/K row order, rope_freqs),
// optionally quantized in the same pass by `loam quantize`'s code. One line per tensor on stderr.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "formats/hf_checkpoint.h"
#include "quant/quantize_model.h"

namespace loam::cli {

int cmd_convert(int argc, char** argv) {
  int n_threads = 0;
  bool refine = false;
  std::vector<std::string> positionals;
  ArgParser parser(
      "convert", "loam convert DIR OUT.gguf [TYPE] [-t N]",
      "Writes OUT.gguf from the Hugging Face checkpoint DIR (config.json, tokenizer.json,\n"
      "tokenizer_config.json, model.safetensors or its shards; or one .safetensors file beside\n"
      "them), as llama.cpp's convert_hf_to_gguf.py does: llama.* and tokenizer.ggml.* keys\n"
      "(gpt2 + llama-bpe with merges, the chat template), GGUF tensor names, attn_q/attn_k rows\n"
      "permuted for GGUF's RoPE, rope_freqs.weight for llama3 rope scaling. Without TYPE the\n"
      "weights keep their type (F32, F16 or BF16); with TYPE they are converted as\n"
      "'loam quantize' does, in the same pass. OUT is written as OUT.tmp and renamed when\n"
      "complete. `loam run -m DIR` runs the directory without converting.\n"
      "TYPE: " + file_type_names() + ".");
  parser.positionals("DIR OUT [TYPE]", "checkpoint, output file, optional target type",
                     &positionals, 3);
  parser.integer("-t", "--threads", "N", "threads (default: physical cores available)",
                 &n_threads, 1, 4096);
  parser.flag("", "--refine", "K types: loam's refined scale search (see 'loam quantize --help')",
              &refine);
  parser.epilog("examples:\n"
                "  loam convert Llama-3.2-1B-Instruct llama-3.2-1b-instruct-bf16.gguf\n"
                "  loam convert Llama-3.2-1B-Instruct llama-3.2-1b-instruct-Q4_K_M.gguf Q4_K_M");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;
  if (positionals.size() < 2) {
    return usage_error("convert", "expected DIR OUT [TYPE], got " +
                                      std::to_string(positionals.size()) + " argument(s)");
  }
  const std::string& in = positionals[0];
  const std::string& out = positionals[1];
  if (!is_hf_checkpoint_path(in)) {
    return usage_error("convert", in + " is not a Hugging Face checkpoint (a directory with "
                                       "config.json, or a .safetensors file); for a GGUF or "
                                       "llama2.c file use 'loam quantize'");
  }
  QuantizeOptions options;
  options.keep_input_type = positionals.size() < 3;
  if (positionals.size() == 3 && !parse_file_type(positionals[2], options.file_type)) {
    return usage_error("convert", "unknown TYPE '" + positionals[2] + "'; expected one of " +
                                      file_type_names());
  }
  options.n_threads = n_threads;
  options.refine_k = refine;
  options.progress = [](const QuantizeProgress& p) {
    if (!p.done) return;
    log_line("[%zu/%zu] %-28s %s -> %s", p.index + 1, p.count, p.name.c_str(),
             dtype_name(p.from), dtype_name(p.to));
  };
  catch_interrupts();
  options.stop = [] { return interrupted(); };

  Stopwatch clock;
  QuantizeResult result;
  if (Status st = quantize_model(in, out, options, &result); !st) {
    if (interrupted()) {
      log_line("loam: interrupted by %s: %s not written, no %s.tmp left", interrupt_name(),
               out.c_str(), out.c_str());
      return kExitInterrupted;
    }
    return runtime_error(st.message());
  }
  log_line("wrote %s: %s, %zu tensors (%zu converted), %s -> %s in %.1f s", out.c_str(),
           file_type_name(result.file_type), result.n_tensors, result.n_converted,
           format_bytes(static_cast<double>(result.bytes_in)).c_str(),
           format_bytes(static_cast<double>(result.bytes_out)).c_str(), clock.ms() / 1000.0);
  return kExitOk;
}

}  // namespace loam::cli
