// The model: hyperparameters, the vocabulary, and views of the weight tensors inside the
// memory-mapped file. A Model never changes after load; any number of Sessions share it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loam/dtype.h"
#include "loam/status.h"
#include "loam/tokenizer.h"

namespace loam {

class MappedFile;

// A view of one weight tensor. ne[0] is the row length (input features); ne[1] the number of
// rows (output features); rows are contiguous, as in GGUF and llama2.c files.
struct Tensor {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  const void* data = nullptr;
  size_t nbytes = 0;
  // The first rows() / 8 * 8 rows again in the type's interleaved layout (src/quant/interleave.h;
  // group g at g * interleaved_group_bytes), when load_model built one for the kernels in use;
  // else nullptr. `data` is the file's, except for the weight matrices that load copied whole into
  // anonymous memory (model/interleave_weights.cpp: those with no interleaved copy).
  const void* interleaved = nullptr;

  int64_t cols() const { return ne[0]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return dtype_row_bytes(type, ne[0]); }
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * row_bytes();
  }
};

struct ModelConfig {
  std::string arch = "llama";
  int n_embd = 0;        // embedding length (dim)
  int n_layer = 0;       // block count
  int n_ff = 0;          // feed-forward length
  int n_head = 0;        // query heads
  int n_head_kv = 0;     // key/value heads (GQA when < n_head)
  int head_dim = 0;      // n_embd / n_head
  int n_rot = 0;         // rope dimension count (<= head_dim)
  int n_ctx_train = 0;   // context length the model was trained for
  int n_vocab = 0;
  float rope_freq_base = 10000.0f;
  // Linear rope scaling (llama.*.rope.scaling.factor with scaling type "linear"): every angle is
  // divided by it, as llama.cpp's freq_scale = 1 / factor does. 1 = none.
  float rope_scale_linear = 1.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;  // output.weight absent: logits use token_embd

  int kv_dim() const { return n_head_kv * head_dim; }
};

struct LayerWeights {
  Tensor attn_norm;  // [n_embd] f32
  Tensor wq;         // [n_embd rows: n_head*head_dim][cols: n_embd]
  Tensor wk;         // [rows: kv_dim][cols: n_embd]
  Tensor wv;         // [rows: kv_dim][cols: n_embd]
  Tensor wo;         // [rows: n_embd][cols: n_head*head_dim]
  Tensor ffn_norm;   // [n_embd] f32
  Tensor ffn_gate;   // [rows: n_ff][cols: n_embd]  (llama2.c w1)
  Tensor ffn_up;     // [rows: n_ff][cols: n_embd]  (llama2.c w3)
  Tensor ffn_down;   // [rows: n_embd][cols: n_ff] (llama2.c w2)
};

struct MetadataEntry {
  std::string key;
  std::string value;  // rendered for display; long arrays summarized
};

class Model {
 public:
  std::string path;
  std::string format;                  // "gguf" or "llama2c"
  uint32_t format_version = 0;         // GGUF version, or 0 for the legacy llama2.c header
  ModelConfig config;
  Vocab vocab;                         // empty for a llama2.c checkpoint without --tokenizer
  Tensor tok_embd;                     // [rows: n_vocab][cols: n_embd]
  Tensor output_norm;                  // [n_embd] f32
  Tensor output;                       // [rows: n_vocab][cols: n_embd]; == tok_embd when tied
  std::vector<LayerWeights> layers;    // [n_layer]
  // [n_rot/2] f32: each rotated pair's angle is divided by its factor. The file's
  // rope_freqs.weight (Llama 3.1 rope scaling) times config.rope_scale_linear. Empty when both
  // are absent (every factor 1).
  std::vector<float> rope_freq_factors;
  std::vector<Tensor> tensors;         // every tensor in file order (for `loam info`)
  std::vector<MetadataEntry> metadata; // GGUF key/values in file order (for `loam info`)
  // Sampling values the checkpoint recommends (a Hugging Face generation_config.json), used when
  // the command line gives none; absent for GGUF and llama2.c files.
  struct SamplingDefaults {
    bool has_temp = false, has_top_p = false;
    float temp = 0.0f, top_p = 1.0f;
  } sampling_defaults;

  // Keeps the mapping (and any converted buffers) alive as long as the tensors point into it.
  std::shared_ptr<const MappedFile> mapping;
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> owned_buffers;
  std::vector<std::shared_ptr<const uint8_t>> interleaved_buffers;  // what Tensor::interleaved points into
  size_t interleaved_bytes = 0;        // weight bytes copied into an interleaved layout at load
};

struct LoadOptions {
  std::string tokenizer_path;  // llama2.c tokenizer.bin (required to use text with a .bin model)
  // Copy the weights of types whose kernels run faster on an interleaved layout (Q4_0 on AVX2)
  // into that layout. Results are the same either way; off keeps every weight in the mapping.
  bool interleave = true;
};

// Loads a GGUF (v2/v3) or llama2.c checkpoint, chosen by the file's magic. Every count, offset and
// size is checked against the file; weight types without a matmul kernel are refused, naming the
// tensor and its type.
Status load_model(const std::string& path, const LoadOptions& options, Model& out);

// Reads a GGUF file that has a vocabulary and no tensors (llama.cpp's ggml-vocab-*.gguf): path,
// format, metadata, vocab, config.arch (general.architecture, "" when absent) and
// config.n_vocab; no weights. For any other file (a model, a llama2.c checkpoint)
// `is_vocab_only` is false and `out` is untouched: load it with load_model.
Status load_vocab_only_gguf(const std::string& path, Model& out, bool& is_vocab_only);

}  // namespace loam
