// load_model(): picks the format by magic, reads the config and binds the weights.
#include <cstring>

#include "core/mmap_file.h"
#include "formats/llama2c_reader.h"
#include "formats/llama_loader.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "model/interleave_weights.h"

namespace loam {

namespace {

constexpr size_t kMetadataArrayItems = 8;  // longer arrays are shown as "[string x 32000]"

Status load_gguf_model(std::shared_ptr<const MappedFile> file, const LoadOptions& options,
                       Model& m) {
  GgufFile gguf;
  LOAM_TRY(GgufFile::parse(file, gguf));
  const std::string& path = file->path();
  std::string arch;
  LOAM_TRY(gguf.get_string("general.architecture", arch));
  if (arch != "llama") {
    return Status::error(path + ": unsupported architecture '" + arch + "' (only 'llama')");
  }
  m.format = "gguf";
  m.format_version = gguf.version();
  for (const GgufKeyValue& kv : gguf.metadata()) {
    m.metadata.push_back({kv.key, kv.value.render(kMetadataArrayItems)});
  }
  LOAM_TRY(read_llama_config(gguf, m.config));

  if (gguf.has("tokenizer.ggml.tokens")) {
    LOAM_TRY(load_vocab_from_gguf(gguf, m.vocab));
    if (m.vocab.size() != m.config.n_vocab) {
      return Status::error(path + ": the vocabulary has " + std::to_string(m.vocab.size()) +
                           " tokens but the model has " + std::to_string(m.config.n_vocab));
    }
  } else if (!options.tokenizer_path.empty()) {
    LOAM_TRY(load_llama2c_tokenizer(options.tokenizer_path, m.config.n_vocab, m.vocab));
  }

  m.tensors.reserve(gguf.tensors().size());
  for (const GgufTensorInfo& info : gguf.tensors()) m.tensors.push_back(tensor_from_info(info));
  return bind_llama_weights(path, m.tensors, m);
}

Status load_llama2c_model(const MappedFile& file, const LoadOptions& options, Model& m) {
  Llama2cHeader h;
  LOAM_TRY(read_llama2c(file, h, m.tensors));
  m.format = "llama2c";
  m.format_version = 0;
  ModelConfig& c = m.config;
  c.arch = "llama";
  c.n_embd = h.dim;
  c.n_layer = h.n_layers;
  c.n_ff = h.hidden_dim;
  c.n_head = h.n_heads;
  c.n_head_kv = h.n_kv_heads;
  c.head_dim = h.dim / h.n_heads;
  c.n_rot = c.head_dim;
  c.n_ctx_train = h.seq_len;
  c.n_vocab = h.vocab_size;
  // llama2.c's run.c hard-codes both.
  c.rope_freq_base = 10000.0f;
  c.rms_eps = 1e-5f;
  LOAM_TRY(check_llama_config(file.path(), c));
  if (!options.tokenizer_path.empty()) {
    LOAM_TRY(load_llama2c_tokenizer(options.tokenizer_path, c.n_vocab, m.vocab));
  }
  return bind_llama_weights(file.path(), m.tensors, m);
}

}  // namespace

Tensor tensor_from_info(const GgufTensorInfo& info) {
  Tensor t;
  t.name = info.name;
  t.type = info.type;
  t.n_dims = info.n_dims;
  for (int d = 0; d < 4; ++d) t.ne[d] = info.ne[d];
  t.data = info.data;
  t.nbytes = info.nbytes;
  return t;
}

Status load_model(const std::string& path, const LoadOptions& options, Model& out) {
  std::shared_ptr<const MappedFile> file;
  LOAM_TRY(MappedFile::open(path, file));
  Model m;
  m.path = path;
  m.mapping = file;
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) {
    LOAM_TRY(load_gguf_model(file, options, m));
  } else {
    LOAM_TRY(load_llama2c_model(*file, options, m));
  }
  if (options.interleave) LOAM_TRY(interleave_weights(m));
  // Built in a local so `out` is untouched on error.
  out = std::move(m);
  return Status::ok();
}

}  // namespace loam
