#include "formats/llama2c_reader.h"

#include <cstring>

#include "core/mmap_file.h"

namespace loam {

namespace {

// Far above any real llama2.c model; they keep size arithmetic far from overflow and reject
// garbage headers before anything is computed from them.
constexpr int32_t kMaxDim = 1 << 20;
constexpr int32_t kMaxLayers = 1024;
constexpr int32_t kMaxHeads = 1 << 14;
constexpr int32_t kMaxVocab = 1 << 22;
constexpr int32_t kMaxSeqLen = 1 << 24;

Status check_field(const char* name, int32_t v, int32_t max) {
  if (v <= 0) return Status::error(std::string(name) + " is " + std::to_string(v) +
                                   ", must be positive");
  if (v > max) return Status::error(std::string(name) + " is " + std::to_string(v) +
                                    ", above the limit " + std::to_string(max));
  return Status::ok();
}

}  // namespace

Status parse_llama2c_header(const uint8_t* data, size_t size, Llama2cHeader& out) {
  if (size < kLlama2cHeaderBytes) {
    return Status::error("file has " + std::to_string(size) + " bytes, shorter than the 28-byte " +
                         "llama2.c header");
  }
  int32_t f[7];
  std::memcpy(f, data, sizeof f);
  Llama2cHeader h;
  h.dim = f[0];
  h.hidden_dim = f[1];
  h.n_layers = f[2];
  h.n_heads = f[3];
  h.n_kv_heads = f[4];
  // A negative vocab_size is how llama2.c marks an unshared classifier (wcls stored at the end).
  h.shared_classifier = f[5] > 0;
  h.vocab_size = f[5] == INT32_MIN ? 0 : (f[5] < 0 ? -f[5] : f[5]);
  h.seq_len = f[6];
  LOAM_TRY(check_field("dim", h.dim, kMaxDim));
  LOAM_TRY(check_field("hidden_dim", h.hidden_dim, kMaxDim));
  LOAM_TRY(check_field("n_layers", h.n_layers, kMaxLayers));
  LOAM_TRY(check_field("n_heads", h.n_heads, kMaxHeads));
  LOAM_TRY(check_field("n_kv_heads", h.n_kv_heads, kMaxHeads));
  LOAM_TRY(check_field("vocab_size", h.vocab_size, kMaxVocab));
  LOAM_TRY(check_field("seq_len", h.seq_len, kMaxSeqLen));
  if (h.dim % h.n_heads != 0) {
    return Status::error("n_heads " + std::to_string(h.n_heads) + " does not divide dim " +
                         std::to_string(h.dim));
  }
  if (h.n_heads % h.n_kv_heads != 0) {
    return Status::error("n_kv_heads " + std::to_string(h.n_kv_heads) +
                         " does not divide n_heads " + std::to_string(h.n_heads));
  }
  if ((h.dim / h.n_heads) % 2 != 0) {
    return Status::error("head size " + std::to_string(h.dim / h.n_heads) +
                         " is odd (RoPE rotates pairs)");
  }
  out = h;
  return Status::ok();
}

uint64_t llama2c_expected_bytes(const Llama2cHeader& h) {
  const uint64_t dim = static_cast<uint64_t>(h.dim);
  const uint64_t hidden = static_cast<uint64_t>(h.hidden_dim);
  const uint64_t layers = static_cast<uint64_t>(h.n_layers);
  const uint64_t vocab = static_cast<uint64_t>(h.vocab_size);
  const uint64_t hs = dim / static_cast<uint64_t>(h.n_heads);
  const uint64_t q_dim = static_cast<uint64_t>(h.n_heads) * hs;
  const uint64_t kv_dim = static_cast<uint64_t>(h.n_kv_heads) * hs;
  uint64_t floats = vocab * dim;                                       // token_embedding
  floats += layers * (2 * dim + dim * q_dim + 2 * kv_dim * dim + q_dim * dim);  // norms, q k v o
  floats += layers * 3 * hidden * dim;                                 // w1 w2 w3
  floats += dim;                                                       // rms_final
  floats += static_cast<uint64_t>(h.seq_len) * hs;                     // freq_cis real + imag
  if (!h.shared_classifier) floats += vocab * dim;                     // wcls
  return kLlama2cHeaderBytes + floats * sizeof(float);
}

namespace {

// Hands out consecutive fp32 arrays of the checkpoint as named tensors.
class Slicer {
 public:
  Slicer(const uint8_t* base, std::vector<Tensor>& out) : p_(base + kLlama2cHeaderBytes),
                                                          out_(out) {}
  void take(const std::string& name, int64_t cols, int64_t rows) {
    Tensor t;
    t.name = name;
    t.type = DType::F32;
    t.n_dims = rows == 1 ? 1 : 2;
    t.ne[0] = cols;
    t.ne[1] = rows;
    t.data = p_;
    t.nbytes = static_cast<size_t>(cols * rows) * sizeof(float);
    p_ += t.nbytes;
    out_.push_back(std::move(t));
  }
  // Per-layer arrays are stored for all layers together: [layer][rows][cols].
  void take_layers(const char* suffix, int n_layers, int64_t cols, int64_t rows) {
    for (int l = 0; l < n_layers; ++l) {
      take("blk." + std::to_string(l) + "." + suffix, cols, rows);
    }
  }
  void skip(size_t bytes) { p_ += bytes; }

 private:
  const uint8_t* p_;
  std::vector<Tensor>& out_;
};

}  // namespace

Status read_llama2c(const MappedFile& file, Llama2cHeader& header, std::vector<Tensor>& tensors) {
  Llama2cHeader h;
  const Status st = parse_llama2c_header(file.data(), file.size(), h);
  if (!st) {
    return Status::error(file.path() + ": not a GGUF or llama2.c model file (llama2.c header: " +
                         st.message() + ")");
  }
  const uint64_t expected = llama2c_expected_bytes(h);
  if (file.size() < expected) {
    return Status::error(file.path() + ": truncated llama2.c checkpoint: expected " +
                         std::to_string(expected) + " bytes, file has " +
                         std::to_string(file.size()));
  }
  if (file.size() > expected) {
    return Status::error(file.path() + ": llama2.c checkpoint has " +
                         std::to_string(file.size()) + " bytes, expected " +
                         std::to_string(expected) + " for its header (wrong header or not a " +
                         "legacy llama2.c export)");
  }
  const int64_t dim = h.dim, hidden = h.hidden_dim, vocab = h.vocab_size;
  const int64_t hs = dim / h.n_heads;
  const int64_t q_dim = h.n_heads * hs, kv_dim = h.n_kv_heads * hs;
  const int L = h.n_layers;
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(9 * L + 4));
  Slicer s(file.data(), out);
  // Export order of llama2.c's legacy format; shapes as GGUF ne = {cols, rows}.
  s.take("token_embd.weight", dim, vocab);            // [vocab][dim]
  s.take_layers("attn_norm.weight", L, dim, 1);       // [layer][dim]
  s.take_layers("attn_q.weight", L, dim, q_dim);      // [layer][n_heads*hs][dim]
  s.take_layers("attn_k.weight", L, dim, kv_dim);     // [layer][n_kv*hs][dim]
  s.take_layers("attn_v.weight", L, dim, kv_dim);     // [layer][n_kv*hs][dim]
  s.take_layers("attn_output.weight", L, q_dim, dim); // [layer][dim][n_heads*hs]
  s.take_layers("ffn_norm.weight", L, dim, 1);        // [layer][dim]
  s.take_layers("ffn_gate.weight", L, dim, hidden);   // w1 [layer][hidden][dim]
  s.take_layers("ffn_down.weight", L, hidden, dim);   // w2 [layer][dim][hidden]
  s.take_layers("ffn_up.weight", L, dim, hidden);     // w3 [layer][hidden][dim]
  s.take("output_norm.weight", dim, 1);               // [dim]
  // freq_cis_real and freq_cis_imag, [seq_len][hs/2] each: recomputed at run time instead.
  s.skip(static_cast<size_t>(h.seq_len) * static_cast<size_t>(hs) * sizeof(float));
  if (!h.shared_classifier) s.take("output.weight", dim, vocab);  // wcls [vocab][dim]
  header = h;
  tensors = std::move(out);
  return Status::ok();
}

}  // namespace loam
