// Vocab-only GGUF files (llama.cpp's ggml-vocab-*.gguf: tokenizer keys, no tensors), read into a
// Model without weights so that `loam tokenize` and `loam info` work on them.
#include <cstdio>
#include <cstring>

#include "loam/gguf.h"
#include "loam/model.h"

namespace loam {

namespace {

constexpr size_t kMetadataArrayItems = 8;  // as load_model shows long arrays

// True when the file starts with the GGUF magic; false for anything else (a llama2.c
// checkpoint, or a file load_model will report on).
bool has_gguf_magic(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  std::fclose(f);
  return ok;
}

}  // namespace

Status load_vocab_only_gguf(const std::string& path, Model& out, bool& is_vocab_only) {
  is_vocab_only = false;
  if (!has_gguf_magic(path)) return Status::ok();
  GgufFile gguf;
  LOAM_TRY(GgufFile::open(path, gguf));
  if (!gguf.tensors().empty()) return Status::ok();
  if (!gguf.has("tokenizer.ggml.tokens")) {
    return Status::error(path + ": a GGUF file with no tensors and no vocabulary "
                         "(tokenizer.ggml.tokens): nothing to load");
  }
  Model m;
  m.path = path;
  m.format = "gguf";
  m.format_version = gguf.version();
  for (const GgufKeyValue& kv : gguf.metadata()) {
    m.metadata.push_back({kv.key, kv.value.render(kMetadataArrayItems)});
  }
  m.config.arch.clear();
  LOAM_TRY(gguf.get_string_opt("general.architecture", m.config.arch));
  LOAM_TRY(load_vocab_from_gguf(gguf, m.vocab));
  m.config.n_vocab = m.vocab.size();
  out = std::move(m);
  is_vocab_only = true;
  return Status::ok();
}

}  // namespace loam
