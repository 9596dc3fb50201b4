// A Hugging Face checkpoint directory (config.json, tokenizer.json, tokenizer_config.json,
// optional generation_config.json, model.safetensors or shards) read as the GGUF file llama.cpp's
// converter (convert_hf_to_gguf.py) would make of it: the same metadata keys, the same tensor
// names and types, Q/K rows permuted the same way, rope_freqs.weight for llama3 rope scaling.
// Both the loader (model/load_hf.cpp) and `loam convert` start from this one mapping, so running
// a directory and running its converted file see identical tensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/hf_config.h"
#include "formats/hf_tokenizer.h"
#include "formats/safetensors.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "loam/status.h"

namespace loam {

struct HfCheckpoint {
  std::string dir;          // the directory holding the json files
  HfConfig config;
  HfTokenizer tokenizer;    // padded to config.vocab_size
  SafetensorsSet weights;
};

// True when `path` is a directory with a config.json, or a .safetensors file.
bool is_hf_checkpoint_path(const std::string& path);

// Opens a directory, or a single .safetensors file whose directory holds the json files (with an
// index there, the whole sharded set is used).
Status open_hf_checkpoint(const std::string& path, HfCheckpoint& out);

// tokenizer_config.json's chat template (what tokenizer.chat_template holds in the converted file)
// of the checkpoint at `path`; "" when it has none.
Status read_hf_chat_template(const std::string& path, std::string& out);

// The tensors as GGUF tensors (names, shapes in ne order, types). Matrices stay views into the
// mapping except attn_q / attn_k, whose rows are permuted into owned copies (HF keeps each head
// as [first halves; second halves] for its rotate-half RoPE; GGUF and our RoPE pair adjacent
// elements). 1-D tensors become F32 copies (as the converter writes them), and rope_freqs.weight
// is added for llama3 rope scaling. `owned` keeps the copies alive.
Status hf_gguf_tensors(const HfCheckpoint& ckpt, std::vector<Tensor>& tensors,
                       std::vector<std::shared_ptr<const std::vector<uint8_t>>>& owned);

// The metadata keys, in the order and types llama.cpp's converter writes them (general.*, llama.*,
// tokenizer.ggml.*, tokenizer.chat_template). `file_type` is the llama_ftype of the tensors.
std::vector<GgufKeyValue> hf_gguf_metadata(const HfCheckpoint& ckpt, uint32_t file_type);

// Permutes the rows of a [n_head * head_dim][row_bytes] matrix from HF's order (pair i with
// i + head_dim/2) to GGUF's (pair 2i with 2i + 1), as convert_hf_to_gguf.py's permute() does.
void permute_rope_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                       size_t row_bytes);

}  // namespace loam
