// Writes a random-weight LLaMA GGUF of a given shape and weight type, with a synthetic byte-level
// SentencePiece vocabulary so the file loads as a text-capable model:
//   gen_model [--preset tinyllama|llama2-7b] [--dim N] [--layers N] [--heads N] [--kv-heads N]
//             [--ffn N] [--vocab N] [--ctx N] [--type F32|F16|BF16] [--tied] [--seed N] -o FILE
// Weights are near-normal(0, 0.02) like trained models, norms are 1, so activations stay sane.
//
// Tensor data is streamed: the GGUF writer only takes whole tensors in memory, so the layout
// (header, metadata, tensor table, padding) is written through it with every tensor viewing one
// shared zero buffer (calloc'd, so untouched pages cost no RAM), then each tensor's bytes are
// generated in 16 Mi-element chunks and written in place with pwrite. A 7B F16 file (13 GB) is
// made with ~100 MB of RAM instead of holding the model in memory.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "formats/gguf_writer.h"
#include "loam/gguf.h"
#include "loam/tokenizer.h"

using namespace loam;

namespace {

struct Shape {
  int dim = 512, layers = 4, heads = 8, kv_heads = 0, ffn = 1376, vocab = 512, ctx = 512;
};

struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] = row length
  DType type;
  bool is_norm;             // all ones, F32
  size_t nbytes;
};

void usage() {
  std::fprintf(stderr,
               "usage: gen_model [--preset tinyllama|llama2-7b] [--dim N] [--layers N] [--heads N]\n"
               "                 [--kv-heads N] [--ffn N] [--vocab N] [--ctx N]\n"
               "                 [--type F32|F16|BF16] [--tied] [--seed N] -o FILE\n");
}

// splitmix64: a fast generator whose stream depends only on its seed, so each tensor gets the
// same values whatever order tensors are generated in.
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Irwin-Hall: the sum of four 16-bit uniforms is near-normal (within 3.5 sigma) and costs one
  // 64-bit draw per value, about 5x cheaper than Box-Muller for a billion weights.
  float normal(float stddev) {
    const uint64_t r = next();
    const double sum = static_cast<double>((r & 0xffff) + ((r >> 16) & 0xffff) +
                                           ((r >> 32) & 0xffff) + (r >> 48));
    // mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12
    return static_cast<float>((sum - 131070.0) * (stddev / 37837.23));
  }
};

// <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>, then filler pieces: U+2581 (the SentencePiece
// space), printable ASCII, U+2581 + letter, then lowercase strings of growing length with and
// without the space mark, until `n` tokens. Scores fall with the index so shorter pieces merge
// first; every longer piece is the concatenation of two shorter ones, so BPE can reach it.
void synthetic_vocab(int n, std::vector<std::string>& pieces, std::vector<float>& scores,
                     std::vector<int32_t>& types) {
  const std::string space = "\xe2\x96\x81";
  auto push = [&](const std::string& p, TokenType t, float score) {
    if (static_cast<int>(pieces.size()) >= n) return;
    pieces.push_back(p);
    scores.push_back(score);
    types.push_back(static_cast<int32_t>(t));
  };
  push("<unk>", TokenType::Unknown, 0);
  push("<s>", TokenType::Control, 0);
  push("</s>", TokenType::Control, 0);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    push(buf, TokenType::Byte, 0);
  }
  auto normal = [&](const std::string& p) {
    push(p, TokenType::Normal, -static_cast<float>(pieces.size()));
  };
  normal(space);
  for (char ch = 0x21; ch <= 0x7e; ++ch) normal(std::string(1, ch));
  for (char ch = 'a'; ch <= 'z'; ++ch) normal(space + ch);
  for (char ch = 'A'; ch <= 'Z'; ++ch) normal(space + ch);
  for (int len = 2; static_cast<int>(pieces.size()) < n && len <= 8; ++len) {
    for (int with_space = 0; with_space < 2 && static_cast<int>(pieces.size()) < n; ++with_space) {
      std::string s(len, 'a');
      while (static_cast<int>(pieces.size()) < n) {
        normal(with_space ? space + s : s);
        int i = len - 1;  // odometer increment over a..z
        while (i >= 0 && s[i] == 'z') s[i--] = 'a';
        if (i < 0) break;
        ++s[i];
      }
    }
  }
}

bool parse_int(const char* s, int& out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0 || v > (1 << 30)) return false;
  out = static_cast<int>(v);
  return true;
}

// Fills one tensor's bytes in the file at `offset`, chunk by chunk.
bool fill_tensor(int fd, uint64_t offset, const TensorPlan& t, uint64_t seed, float stddev) {
  const size_t elem = t.type == DType::F32 ? 4 : 2;
  const size_t n = t.nbytes / elem;
  const size_t chunk = size_t(1) << 24;
  std::vector<uint8_t> buf(std::min(n, chunk) * elem);  // [chunk elements] in the file's type
  SplitMix rng{seed};
  for (size_t done = 0; done < n;) {
    const size_t m = std::min(chunk, n - done);
    for (size_t i = 0; i < m; ++i) {
      const float v = t.is_norm ? 1.0f : rng.normal(stddev);
      if (t.type == DType::F32) {
        std::memcpy(&buf[i * 4], &v, 4);
      } else {
        const uint16_t h = t.type == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
        std::memcpy(&buf[i * 2], &h, 2);
      }
    }
    size_t written = 0;
    while (written < m * elem) {
      const ssize_t w = pwrite(fd, buf.data() + written, m * elem - written,
                               static_cast<off_t>(offset + done * elem + written));
      if (w <= 0) return false;
      written += static_cast<size_t>(w);
    }
    done += m;
  }
  return true;
}

void set_metadata(GgufWriter& w, const Shape& s, uint32_t file_type) {
  using V = GgufValue;
  w.set("general.architecture", V::make_string("llama"));
  w.set("general.name", V::make_string("loam-random-" + std::to_string(s.dim) + "x" +
                                       std::to_string(s.layers)));
  w.set("general.file_type", V::make_u32(file_type));
  w.set("llama.context_length", V::make_u32(s.ctx));
  w.set("llama.embedding_length", V::make_u32(s.dim));
  w.set("llama.block_count", V::make_u32(s.layers));
  w.set("llama.feed_forward_length", V::make_u32(s.ffn));
  w.set("llama.attention.head_count", V::make_u32(s.heads));
  w.set("llama.attention.head_count_kv", V::make_u32(s.kv_heads));
  w.set("llama.rope.dimension_count", V::make_u32(s.dim / s.heads));
  w.set("llama.rope.freq_base", V::make_f32(10000.0f));
  w.set("llama.attention.layer_norm_rms_epsilon", V::make_f32(1e-5f));
  w.set("llama.vocab_size", V::make_u32(s.vocab));
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  synthetic_vocab(s.vocab, pieces, scores, types);
  w.set("tokenizer.ggml.model", V::make_string("llama"));
  w.set("tokenizer.ggml.tokens", V::make_string_array(pieces));
  w.set("tokenizer.ggml.scores", V::make_f32_array(scores));
  w.set("tokenizer.ggml.token_type", V::make_i32_array(types));
  w.set("tokenizer.ggml.unknown_token_id", V::make_u32(0));
  w.set("tokenizer.ggml.bos_token_id", V::make_u32(1));
  w.set("tokenizer.ggml.eos_token_id", V::make_u32(2));
  w.set("tokenizer.ggml.add_bos_token", V::make_bool(true));
  w.set("tokenizer.ggml.add_eos_token", V::make_bool(false));
}

// Tensors in the order llama.cpp's converter writes them; norms F32, everything else `type`.
std::vector<TensorPlan> plan_tensors(const Shape& s, DType type, bool tied) {
  const int kv_dim = s.kv_heads * (s.dim / s.heads);
  std::vector<TensorPlan> plan;
  auto add = [&](const std::string& name, int64_t cols, int64_t rows, bool norm) {
    const DType t = norm ? DType::F32 : type;
    std::vector<int64_t> ne = {cols};
    if (rows > 1) ne.push_back(rows);
    plan.push_back({name, ne, t, norm, dtype_row_bytes(t, cols) * static_cast<size_t>(rows)});
  };
  add("token_embd.weight", s.dim, s.vocab, false);      // [vocab][dim]
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", s.dim, 1, true);        // [dim]
    add(p + "attn_q.weight", s.dim, s.dim, false);      // [dim][dim]
    add(p + "attn_k.weight", s.dim, kv_dim, false);     // [kv_dim][dim]
    add(p + "attn_v.weight", s.dim, kv_dim, false);     // [kv_dim][dim]
    add(p + "attn_output.weight", s.dim, s.dim, false); // [dim][dim]
    add(p + "ffn_norm.weight", s.dim, 1, true);         // [dim]
    add(p + "ffn_gate.weight", s.dim, s.ffn, false);    // [ffn][dim]
    add(p + "ffn_up.weight", s.dim, s.ffn, false);      // [ffn][dim]
    add(p + "ffn_down.weight", s.ffn, s.dim, false);    // [dim][ffn]
  }
  add("output_norm.weight", s.dim, 1, true);            // [dim]
  if (!tied) add("output.weight", s.dim, s.vocab, false);  // [vocab][dim]
  return plan;
}

// Pass 1 writes the layout through the writer with every tensor viewing the same zero pages;
// pass 2 finds where each tensor landed (with our own reader) and writes its values in place.
// Returns "" or an error message.
std::string write_streamed(GgufWriter& w, const std::vector<TensorPlan>& plan,
                           const std::string& path, uint64_t seed) {
  size_t max_bytes = 0;
  for (const TensorPlan& t : plan) max_bytes = std::max(max_bytes, t.nbytes);
  void* zeros = std::calloc(max_bytes, 1);
  if (!zeros) return "out of memory";
  Status st;
  for (const TensorPlan& t : plan) {
    st = w.add_tensor_view(t.name, t.type, t.ne, zeros, t.nbytes);
    if (!st) break;
  }
  if (st) st = w.write(path);
  std::free(zeros);
  if (!st) return st.message();

  std::vector<uint64_t> offsets;  // [tensor] absolute file offset of its data
  {
    GgufFile file;
    st = GgufFile::open(path, file);
    if (!st) return "rereading the layout: " + st.message();
    for (const TensorPlan& t : plan) {
      const GgufTensorInfo* info = file.find_tensor(t.name);
      if (!info || info->nbytes != t.nbytes)
        return path + ": tensor " + t.name + " missing or resized on reread";
      offsets.push_back(file.data_offset() + info->offset);
    }
  }
  const int fd = open(path.c_str(), O_WRONLY);
  if (fd < 0) return "cannot reopen " + path + ": " + std::strerror(errno);
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!fill_tensor(fd, offsets[i], plan[i], seed * 0x100000001b3ull + i, 0.02f)) {
      const std::string why = std::strerror(errno);
      close(fd);
      return "writing " + plan[i].name + " into " + path + ": " + why;
    }
  }
  if (close(fd) != 0) return "closing " + path + ": " + std::strerror(errno);
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  Shape s;
  std::string out_path, type_name = "F16";
  uint64_t seed = 1;
  bool tied = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    int* target = nullptr;
    if (a == "--dim") target = &s.dim;
    else if (a == "--layers") target = &s.layers;
    else if (a == "--heads") target = &s.heads;
    else if (a == "--kv-heads") target = &s.kv_heads;
    else if (a == "--ffn") target = &s.ffn;
    else if (a == "--vocab") target = &s.vocab;
    else if (a == "--ctx") target = &s.ctx;
    if (target) {
      if (!has_value || !parse_int(argv[++i], *target)) {
        std::fprintf(stderr, "gen_model: %s needs a positive integer\n", a.c_str());
        return 2;
      }
    } else if (a == "--preset" && has_value) {
      const std::string p = argv[++i];
      if (p == "tinyllama") s = {2048, 22, 32, 4, 5632, 32000, 2048};
      else if (p == "llama2-7b") s = {4096, 32, 32, 32, 11008, 32000, 4096};
      else {
        std::fprintf(stderr, "gen_model: unknown preset '%s' (tinyllama, llama2-7b)\n", p.c_str());
        return 2;
      }
    } else if (a == "--type" && has_value) {
      type_name = argv[++i];
    } else if (a == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--tied") {
      tied = true;
    } else if ((a == "-o" || a == "--output") && has_value) {
      out_path = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "gen_model: unknown or incomplete argument '%s'\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (s.kv_heads == 0) s.kv_heads = s.heads;
  DType type;
  uint32_t file_type;  // general.file_type as llama.cpp numbers it (LLAMA_FTYPE_*)
  if (type_name == "F32" || type_name == "f32") { type = DType::F32; file_type = 0; }
  else if (type_name == "F16" || type_name == "f16") { type = DType::F16; file_type = 1; }
  else if (type_name == "BF16" || type_name == "bf16") { type = DType::BF16; file_type = 32; }
  else {
    std::fprintf(stderr, "gen_model: type '%s' not supported (F32, F16, BF16)\n",
                 type_name.c_str());
    return 2;
  }
  if (out_path.empty()) {
    usage();
    return 2;
  }
  if (s.dim % s.heads != 0 || s.heads % s.kv_heads != 0 || (s.dim / s.heads) % 2 != 0) {
    std::fprintf(stderr,
                 "gen_model: heads must divide dim into an even head size, kv-heads divide heads\n");
    return 2;
  }
  if (s.vocab < 259) {
    std::fprintf(stderr, "gen_model: --vocab must be >= 259 (3 special + 256 byte tokens)\n");
    return 2;
  }
  GgufWriter w;
  set_metadata(w, s, file_type);
  const std::vector<TensorPlan> plan = plan_tensors(s, type, tied);
  size_t total_bytes = 0, n_params = 0;
  for (const TensorPlan& t : plan) {
    total_bytes += t.nbytes;
    n_params += t.nbytes / (t.type == DType::F32 ? 4 : 2);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::string error = write_streamed(w, plan, out_path, seed);
  if (!error.empty()) {
    std::fprintf(stderr, "gen_model: %s\n", error.c_str());
    return 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "gen_model: wrote %s: dim %d, %d layers, %d heads (%d kv), ffn %d, vocab %d, ctx %d, "
               "%s%s, %.1fM parameters, %.1f MiB of tensors in %.1f s\n",
               out_path.c_str(), s.dim, s.layers, s.heads, s.kv_heads, s.ffn, s.vocab, s.ctx,
               dtype_name(type), tied ? ", tied embeddings" : "", n_params / 1e6,
               total_bytes / 1048576.0, secs);
  return 0;
}
