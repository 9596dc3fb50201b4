// open_hf_quantize_source(): a Hugging Face checkpoint as the input of quantize_model, which
// then writes the GGUF file (`loam convert`, or `loam quantize DIR OUT TYPE`).
#include "formats/hf_checkpoint.h"
#include "quant/quantize_source.h"

namespace loam {

namespace {

// llama_ftype of the matrices' type: what general.file_type says for a file kept in it.
uint32_t file_type_of(DType t) {
  switch (t) {
    case DType::F32: return static_cast<uint32_t>(FileType::AllF32);
    case DType::BF16: return static_cast<uint32_t>(FileType::MostlyBF16);
    default: return static_cast<uint32_t>(FileType::MostlyF16);
  }
}

}  // namespace

Status open_hf_quantize_source(const std::string& path, QuantizeSource& out) {
  HfCheckpoint ckpt;
  LOAM_TRY(open_hf_checkpoint(path, ckpt));
  QuantizeSource s;
  s.path = path;
  s.format = "safetensors";
  LOAM_TRY(hf_gguf_tensors(ckpt, s.tensors, s.owned));
  const SafetensorsTensor* embd = ckpt.weights.find("model.embed_tokens.weight");
  s.metadata = hf_gguf_metadata(ckpt, file_type_of(embd->type));
  s.alignment = 32;
  s.model.arch = "llama";
  s.model.n_layer = static_cast<int>(ckpt.config.num_hidden_layers);
  s.model.n_head = static_cast<int>(ckpt.config.num_attention_heads);
  s.model.n_head_kv = static_cast<int>(ckpt.config.num_key_value_heads);
  static const std::vector<uint8_t> kNoBytes;
  const auto& files = ckpt.weights.files();
  s.mapping = files.front().mapping();
  // Further shards stay mapped through `owned` (the aliasing constructor: shared ownership of
  // the mapping, pointing at an empty vector).
  for (size_t i = 1; i < files.size(); ++i) s.owned.emplace_back(files[i].mapping(), &kNoBytes);
  out = std::move(s);
  return Status::ok();
}

}  // namespace loam
