// `loam logits -m MODEL --tokens 1,2,3 -o FILE.f32`: runs the ids teacher-forced and writes one
// row of n_vocab little-endian float32 logits per input position (the layout of
// ../shared/golden/*.logits.f32), for comparing engines and quantizations. Needs no vocabulary.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/session_setup.h"
#include "loam/session.h"

namespace loam::cli {

namespace {

// Writes floats as little-endian bytes whatever the host's byte order.
Status write_f32_le(const std::string& path, const std::vector<float>& values) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::error(path + ": " + std::strerror(errno));
  std::vector<uint8_t> buf;
  constexpr size_t kChunk = 1 << 16;  // floats per write
  bool ok = true;
  for (size_t start = 0; start < values.size() && ok; start += kChunk) {
    const size_t n = std::min(kChunk, values.size() - start);
    buf.resize(n * 4);
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits;
      std::memcpy(&bits, &values[start + i], 4);
      buf[4 * i + 0] = static_cast<uint8_t>(bits);
      buf[4 * i + 1] = static_cast<uint8_t>(bits >> 8);
      buf[4 * i + 2] = static_cast<uint8_t>(bits >> 16);
      buf[4 * i + 3] = static_cast<uint8_t>(bits >> 24);
    }
    ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
  }
  const int saved_errno = errno;
  if (std::fclose(f) != 0) ok = false;
  if (!ok) return Status::error(path + ": write failed: " + std::strerror(saved_errno));
  return Status::ok();
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  std::string model_path, tokenizer_path, tokens_text, out_path, max_memory_text;
  int n_ctx = 0, n_threads = 0;
  bool no_repack = false;
  ArgParser parser("logits", "loam logits -m MODEL --tokens 1,2,3 -o FILE.f32 [options]",
                   "Evaluates the token ids in order (teacher forcing) and writes the logits after\n"
                   "each one: n_tokens rows of n_vocab little-endian float32 values. Works with a\n"
                   "llama2.c checkpoint alone (no tokenizer needed).");
  parser.text("-m", "--model", "FILE", "GGUF file or llama2.c checkpoint", &model_path);
  parser.text("", "--tokens", "IDS", "token ids separated by commas (e.g. from 'loam tokenize "
              "--ids')", &tokens_text);
  parser.text("-o", "--output", "FILE", "where to write the float32 rows", &out_path);
  parser.integer("-c", "--ctx-size", "N", "context length; 0 = min(model context, 4096) "
                 "(default 0)", &n_ctx, 0, std::numeric_limits<int>::max());
  parser.integer("-t", "--threads", "N", "threads (default: physical cores available)",
                 &n_threads, 1, 4096);
  parser.text("", "--tokenizer", "FILE", "tokenizer.bin (accepted for symmetry; not needed)",
              &tokenizer_path);
  parser.flag("", "--no-repack", "keep every weight in the file's layout (same results; no copy)",
              &no_repack);
  DType cache_k = kDefaultCacheType, cache_v = kDefaultCacheType;
  add_cache_type_options(parser, &cache_k, &cache_v);
  add_max_memory_option(parser, &max_memory_text);
  parser.epilog("example:\n  loam logits -m models/stories15M.bin --tokens 1,9038,2501,263,931 "
                "-o stories15M.f32");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;

  if (!parser.given("--tokens")) return usage_error("logits", "missing --tokens IDS");
  if (out_path.empty()) return usage_error("logits", "missing -o FILE");
  std::vector<int32_t> tokens;
  if (Status st = parse_token_list(tokens_text, tokens); !st) {
    return usage_error("logits", st.message());
  }
  uint64_t max_memory = 0;
  if (Status st = parse_max_memory(max_memory_text, max_memory); !st) {
    return usage_error("logits", st.message());
  }
  if (model_path.empty()) {
    if (Status st = default_model_path(model_path); !st) return usage_error("logits", st.message());
  }
  if (Status st = select_isa(); !st) return runtime_error(st.message());

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  if (Status st = load_model_unpacked(model_path, tokenizer_path, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  const int n_vocab = model->config.n_vocab;
  for (int32_t id : tokens) {
    if (id >= n_vocab) {
      return runtime_error("token id " + std::to_string(id) + " is out of range: " + model_path +
                           " has " + std::to_string(n_vocab) + " tokens");
    }
  }

  SessionPlan plan;
  plan.options.n_ctx = n_ctx;
  plan.options.n_threads = n_threads;
  plan.options.cache_type_k = cache_k;
  plan.options.cache_type_v = cache_v;
  plan.repack = !no_repack;
  plan.max_memory = max_memory;
  const int n_tokens = static_cast<int>(tokens.size());
  const int n_ctx_used = Session::resolve(model->config, plan.options).n_ctx;
  if (n_tokens > n_ctx_used) {
    return runtime_error(std::to_string(n_tokens) + " tokens are longer than the context of " +
                         std::to_string(n_ctx_used) + " tokens (-c)");
  }
  // The rows written out, [n_tokens][n_vocab] f32, are held whole (no overflow: n_tokens is an
  // int, n_vocab at most 2^22).
  plan.extra_bytes = static_cast<uint64_t>(n_tokens) * static_cast<uint64_t>(n_vocab) * 4;
  std::unique_ptr<Session> session;
  double repack_ms = 0.0;
  if (Status st = create_session_checked(model, plan, session, repack_ms); !st) {
    return runtime_error(st.message());
  }
  load_ms += repack_ms;

  std::vector<float> rows;  // [n_tokens][n_vocab]
  Stopwatch clock;
  if (Status st = session->eval(tokens, &rows); !st) return runtime_error(st.message());
  const double eval_ms = clock.ms();
  if (rows.size() != static_cast<size_t>(n_tokens) * static_cast<size_t>(n_vocab)) {
    return runtime_error("internal: expected " + std::to_string(n_tokens) + " rows of logits");
  }
  if (Status st = write_f32_le(out_path, rows); !st) return runtime_error(st.message());
  log_line("loaded in %.1f ms%s; %d tokens in %.1f ms; wrote %d rows x %d floats to %s", load_ms,
           describe_repack(*model).c_str(), n_tokens, eval_ms, n_tokens, n_vocab, out_path.c_str());
  return kExitOk;
}

}  // namespace loam::cli
