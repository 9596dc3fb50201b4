// load_hf_model(): reads the checkpoint through formats/hf_checkpoint and binds the weights with
// the GGUF loader's binder, so both formats are checked by the same rules.
#include "model/load_hf.h"

#include <sys/stat.h>

#include "core/mmap_file.h"
#include "formats/hf_checkpoint.h"
#include "formats/llama_loader.h"
#include "model/interleave_weights.h"

namespace loam {

namespace {

constexpr size_t kMetadataArrayItems = 8;  // as load_llama.cpp shows GGUF arrays

uint32_t file_type_of(DType embd) {
  switch (embd) {
    case DType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
    case DType::BF16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
    default: return 1;           // LLAMA_FTYPE_MOSTLY_F16
  }
}

}  // namespace

Status load_hf_model(const std::string& path, const LoadOptions& options, Model& out) {
  HfCheckpoint ckpt;
  LOAM_TRY(open_hf_checkpoint(path, ckpt));
  const HfConfig& hc = ckpt.config;
  Model m;
  m.path = path;
  m.format = "safetensors";
  m.format_version = 0;
  ModelConfig& c = m.config;
  c.arch = "llama";
  c.n_embd = static_cast<int>(hc.hidden_size);
  c.n_layer = static_cast<int>(hc.num_hidden_layers);
  c.n_ff = static_cast<int>(hc.intermediate_size);
  c.n_head = static_cast<int>(hc.num_attention_heads);
  c.n_head_kv = static_cast<int>(hc.num_key_value_heads);
  c.head_dim = static_cast<int>(hc.head_dim);
  c.n_rot = c.head_dim;
  c.n_ctx_train = static_cast<int>(hc.max_position_embeddings);
  c.n_vocab = static_cast<int>(hc.vocab_size);
  c.rope_freq_base = static_cast<float>(hc.rope_theta);
  c.rms_eps = static_cast<float>(hc.rms_norm_eps);
  LOAM_TRY(check_llama_config(ckpt.dir + "/config.json", c));

  LOAM_TRY(hf_gguf_tensors(ckpt, m.tensors, m.owned_buffers));
  m.sampling_defaults.has_temp = hc.has_temperature;
  m.sampling_defaults.temp = static_cast<float>(hc.temperature);
  m.sampling_defaults.has_top_p = hc.has_top_p;
  m.sampling_defaults.top_p = static_cast<float>(hc.top_p);
  LOAM_TRY(fill_vocab_from_hf(ckpt.tokenizer, hc.eos_token_ids, ckpt.dir + "/tokenizer.json",
                              m.vocab));
  const SafetensorsTensor* embd = ckpt.weights.find("model.embed_tokens.weight");
  for (const GgufKeyValue& kv : hf_gguf_metadata(ckpt, file_type_of(embd->type))) {
    m.metadata.push_back({kv.key, kv.value.render(kMetadataArrayItems)});
  }
  // The first file is the Model's mapping; further shards stay alive through owned_buffers
  // (shared ownership of the mapping, pointing at an empty vector: the aliasing constructor).
  static const std::vector<uint8_t> kNoBytes;
  const auto& files = ckpt.weights.files();
  m.mapping = files.front().mapping();
  for (size_t i = 1; i < files.size(); ++i) {
    m.owned_buffers.emplace_back(files[i].mapping(), &kNoBytes);
  }
  LOAM_TRY(bind_llama_weights(path, m.tensors, m));
  if (options.interleave) LOAM_TRY(interleave_weights(m));
  out = std::move(m);
  return Status::ok();
}

Status load_any_model(const std::string& path, const LoadOptions& options, Model& out) {
  // A directory can only be a checkpoint: without config.json its error says what is missing.
  struct stat st;
  const bool is_dir = stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (is_dir || is_hf_checkpoint_path(path)) return load_hf_model(path, options, out);
  return load_model(path, options, out);
}

}  // namespace loam
