// `loam info MODEL`: what is in a model file. Prints to stdout: file and format, architecture,
// hyperparameters, vocab summary, GGUF metadata, the tensor table, and totals.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/chat_setup.h"
#include "cli/cli.h"

namespace loam::cli {

namespace {

const char* token_type_name(TokenType t) {
  switch (t) {
    case TokenType::Undefined: return "undefined";
    case TokenType::Normal: return "normal";
    case TokenType::Unknown: return "unknown";
    case TokenType::Control: return "control";
    case TokenType::UserDefined: return "user-defined";
    case TokenType::Unused: return "unused";
    case TokenType::Byte: return "byte";
  }
  return "?";
}

std::string piece_of(const Vocab& v, int32_t id) {
  if (id < 0 || id >= v.size()) return std::to_string(id) + " (none)";
  return std::to_string(id) + " '" + v.pieces[static_cast<size_t>(id)] + "'";
}

// One display line: control characters escaped, long values (chat templates) cut short.
std::string display_value(const std::string& v) {
  constexpr size_t kMaxChars = 160;
  std::string out;
  for (char c : v) {
    // Cut only before a character's first byte, never inside a UTF-8 sequence.
    if (out.size() >= kMaxChars && (static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      out += "... (" + std::to_string(v.size()) + " bytes)";
      break;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

// GGUF order: ne[0] (row length) first, as `gguf` tools print it.
std::string shape_of(const Tensor& t) {
  std::string s = "[";
  const int dims = t.n_dims < 1 ? 1 : t.n_dims;
  for (int d = 0; d < dims && d < 4; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

// "factors 1..8 (rope_freqs.weight, 16 values)" for Llama 3.1 rope scaling, "linear, factor 4",
// or "none".
std::string describe_rope_scaling(const Model& m) {
  const std::vector<float>& factors = m.rope_freq_factors;
  const double linear = m.config.rope_scale_linear;
  const bool from_file = std::any_of(m.tensors.begin(), m.tensors.end(),
                                     [](const Tensor& t) { return t.name == "rope_freqs.weight"; });
  char buf[128];
  if (factors.empty()) return "none";
  if (!from_file) {
    std::snprintf(buf, sizeof buf, "linear, factor %g", linear);
    return buf;
  }
  const auto mm = std::minmax_element(factors.begin(), factors.end());
  std::snprintf(buf, sizeof buf, "factors %g..%g (rope_freqs.weight, %zu values",
                static_cast<double>(*mm.first), static_cast<double>(*mm.second), factors.size());
  std::string out = buf;
  if (linear != 1.0) {
    std::snprintf(buf, sizeof buf, ", times linear factor %g", linear);
    out += buf;
  }
  return out + ")";
}

void print_hyperparameters(const Model& m) {
  const ModelConfig& c = m.config;
  std::printf("hyperparameters:\n");
  std::printf("  %-24s %d\n", "embedding length", c.n_embd);
  std::printf("  %-24s %d\n", "block count", c.n_layer);
  std::printf("  %-24s %d\n", "feed-forward length", c.n_ff);
  std::printf("  %-24s %d\n", "head count", c.n_head);
  std::string gqa;
  if (c.n_head_kv > 0 && c.n_head_kv < c.n_head)
    gqa = " (grouped-query attention, " + std::to_string(c.n_head / c.n_head_kv) + ":1)";
  std::printf("  %-24s %d%s\n", "head count kv", c.n_head_kv, gqa.c_str());
  std::printf("  %-24s %d\n", "head dim", c.head_dim);
  std::printf("  %-24s %d\n", "rope dimension count", c.n_rot);
  std::printf("  %-24s %g\n", "rope freq base", static_cast<double>(c.rope_freq_base));
  std::printf("  %-24s %s\n", "rope scaling", describe_rope_scaling(m).c_str());
  std::printf("  %-24s %g\n", "rms epsilon", static_cast<double>(c.rms_eps));
  std::printf("  %-24s %d\n", "context length", c.n_ctx_train);
  std::printf("  %-24s %d\n", "vocab size", c.n_vocab);
  std::printf("  %-24s %s\n", "tied embeddings",
              c.tied_embeddings ? "yes (no output.weight: logits use token_embd.weight)" : "no");
}

void print_vocab(const Model& m) {
  const Vocab& v = m.vocab;
  if (v.empty()) {
    std::printf("vocab: none%s\n", m.format == "llama2c"
                                       ? " (llama2.c checkpoint: pass --tokenizer tokenizer.bin)"
                                       : "");
    return;
  }
  std::printf("vocab:\n");
  std::printf("  %-24s %d (%s)\n", "tokens", v.size(), v.model.c_str());
  if (v.byte_level()) {
    std::printf("  %-24s byte-level BPE, %zu merges\n", "tokenizer", v.merges.size());
    std::printf("  %-24s %s\n", "pre-tokenizer", v.pre.c_str());
  } else {
    std::printf("  %-24s SentencePiece BPE with byte fallback\n", "tokenizer");
    std::printf("  %-24s none (spaces become U+2581)\n", "pre-tokenizer");
  }
  std::printf("  %-24s %s\n", "bos", piece_of(v, v.bos_id).c_str());
  std::printf("  %-24s %s\n", "eos", piece_of(v, v.eos_id).c_str());
  std::printf("  %-24s %s\n", "eot", piece_of(v, v.eot_id).c_str());
  if (v.eom_id >= 0) std::printf("  %-24s %s\n", "eom", piece_of(v, v.eom_id).c_str());
  std::string eog;
  for (int32_t id : v.eog_ids) eog += (eog.empty() ? "" : ", ") + piece_of(v, id);
  std::printf("  %-24s %s\n", "end of generation", eog.empty() ? piece_of(v, v.eos_id).c_str()
                                                                  : eog.c_str());
  std::printf("  %-24s %s\n", "unk", piece_of(v, v.unk_id).c_str());
  std::printf("  %-24s %s\n", "add bos", v.add_bos ? "yes" : "no");
  std::printf("  %-24s %s\n", "add space prefix", v.add_space_prefix ? "yes" : "no");
  std::printf("  %-24s %s\n", "chat template", describe_chat_template(m.path).c_str());
  std::map<int32_t, int> by_type;
  for (TokenType t : v.types) ++by_type[static_cast<int32_t>(t)];
  std::string types;
  for (const auto& [type, count] : by_type) {
    types += (types.empty() ? "" : ", ") + std::to_string(count) + " " +
             token_type_name(static_cast<TokenType>(type));
  }
  if (!types.empty()) std::printf("  %-24s %s\n", "token types", types.c_str());
}

void print_tensors(const Model& m) {
  size_t name_w = 4, shape_w = 5;
  for (const Tensor& t : m.tensors) {
    name_w = std::max(name_w, t.name.size());
    shape_w = std::max(shape_w, shape_of(t).size());
  }
  std::printf("tensors (%zu):\n", m.tensors.size());
  std::printf("  %-*s  %-*s  %-5s  %12s\n", static_cast<int>(name_w), "name",
              static_cast<int>(shape_w), "shape", "type", "bytes");
  double params = 0.0, bytes = 0.0;
  std::map<std::string, int> type_counts;
  for (const Tensor& t : m.tensors) {
    const char* type = dtype_name(t.type);
    std::printf("  %-*s  %-*s  %-5s  %12zu\n", static_cast<int>(name_w), t.name.c_str(),
                static_cast<int>(shape_w), shape_of(t).c_str(), type ? type : "?", t.nbytes);
    params += static_cast<double>(t.elements());
    bytes += static_cast<double>(t.nbytes);
    ++type_counts[type ? type : "?"];
  }
  std::string types;
  for (const auto& [type, count] : type_counts) {
    types += (types.empty() ? "" : ", ") + std::to_string(count) + " " + type;
  }
  std::printf("total: %.0f parameters (%s), %.0f bytes (%s); tensor types: %s\n", params,
              format_count(params).c_str(), bytes, format_bytes(bytes).c_str(), types.c_str());
}

}  // namespace

int cmd_info(int argc, char** argv) {
  std::string model_path, tokenizer_path;
  std::vector<std::string> positionals;
  bool cpu_only = false;
  ArgParser parser("info", "loam info MODEL [--tokenizer FILE] | loam info --cpu",
                   "Prints a model's architecture, hyperparameters, vocabulary summary, metadata,\n"
                   "and its tensors (name, shape, type, bytes) with the totals.");
  parser.positionals("MODEL", "GGUF file, llama2.c checkpoint or Hugging Face directory (or -m MODEL)", &positionals, 1);
  parser.text("-m", "--model", "FILE", "the model (instead of the MODEL argument)", &model_path);
  parser.text("", "--tokenizer", "FILE", "tokenizer.bin for a llama2.c checkpoint",
              &tokenizer_path);
  parser.flag("", "--cpu", "print the CPU features and the kernel set in use, then exit",
              &cpu_only);
  parser.epilog("example:\n  loam info models/stories15M.bin --tokenizer models/tokenizer.bin");
  if (int rc = finish_parse(parser, parser.parse(argc, argv, 2)); rc >= 0) return rc;
  if (cpu_only) return print_cpu_report();

  if (!positionals.empty() && !model_path.empty()) {
    return usage_error("info", "give the model once: MODEL or -m MODEL");
  }
  if (!positionals.empty()) model_path = positionals[0];
  if (model_path.empty()) {
    if (Status st = default_model_path(model_path); !st) return usage_error("info", st.message());
  }

  std::shared_ptr<Model> model;
  double load_ms = 0.0;
  // A vocab-only GGUF (ggml-vocab-*.gguf) loads without weights: no hyperparameters, no tensors.
  if (Status st = load_model_or_vocab_timed(model_path, tokenizer_path, model, load_ms); !st) {
    return runtime_error(st.message());
  }
  const Model& m = *model;
  const bool vocab_only = m.format == "gguf" && m.tensors.empty();
  std::printf("file:           %s\n", m.path.c_str());
  if (vocab_only) {
    std::printf("format:         GGUF v%u, vocabulary only (no tensors)\n", m.format_version);
  } else if (m.format == "gguf") {
    std::printf("format:         GGUF v%u\n", m.format_version);
  } else if (m.format == "safetensors") {
    // The metadata and tensors shown are those `loam convert` would write.
    std::printf("format:         Hugging Face checkpoint (safetensors; shown as its GGUF "
                "conversion)\n");
  } else {
    std::printf("format:         llama2.c checkpoint (legacy header, f32)\n");
  }
  std::printf("architecture:   %s\n", m.config.arch.c_str());
  if (!vocab_only) print_hyperparameters(m);
  print_vocab(m);
  if (!m.metadata.empty()) {
    std::printf("metadata (%zu keys):\n", m.metadata.size());
    for (const MetadataEntry& e : m.metadata) {
      std::printf("  %s = %s\n", e.key.c_str(), display_value(e.value).c_str());
    }
  }
  if (!vocab_only) print_tensors(m);
  return kExitOk;
}

}  // namespace loam::cli
