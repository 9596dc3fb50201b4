// The input side of `loam quantize`: a GGUF file or a llama2.c checkpoint opened as the metadata
// and tensors of the GGUF file it will become. Internal to quant/quantize_model.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loam/gguf.h"
#include "loam/model.h"
#include "loam/status.h"
#include "quant/quant_mix.h"

namespace loam {

class MappedFile;

struct QuantizeSource {
  std::string path;
  std::string format;                      // "gguf" or "llama2c"
  std::vector<GgufKeyValue> metadata;      // file order (GGUF) or built from the header + vocab
  uint32_t alignment = 32;
  std::vector<Tensor> tensors;             // file order; data points into `mapping`
  MixModelInfo model;                      // what the type rules need
  std::shared_ptr<const MappedFile> mapping;
  // Tensor bytes that are not in `mapping`: a Hugging Face checkpoint's permuted attn_q/attn_k
  // rows, its F32 norms and rope_freqs, and (aliased) the mappings of further shards.
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> owned;
};

// Opens `path` (a Hugging Face checkpoint directory or .safetensors file: see
// open_hf_quantize_source; otherwise a file chosen by its magic). `tokenizer_path` is a llama2.c tokenizer.bin whose
// vocabulary is embedded as tokenizer.ggml.* keys: required for a llama2.c checkpoint (else the
// output would be a model without a vocabulary), allowed for a GGUF file without one, refused
// for a GGUF file that has one. Every tensor must be F32, F16 or BF16: a quantized input is
// refused, naming the tensor and its type.
Status open_quantize_source(const std::string& path, const std::string& tokenizer_path,
                            QuantizeSource& out);

// A Hugging Face checkpoint as the GGUF file llama.cpp's converter would write
// (formats/hf_checkpoint.h); format "safetensors".
Status open_hf_quantize_source(const std::string& path, QuantizeSource& out);

// The tokenizer.ggml.* keys for a vocabulary, as llama.cpp's converters write them.
std::vector<GgufKeyValue> vocab_metadata(const Vocab& vocab);

}  // namespace loam
