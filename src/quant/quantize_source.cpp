#include "quant/quantize_source.h"

#include <cstring>

#include "core/mmap_file.h"
#include "formats/hf_checkpoint.h"
#include "formats/llama2c_reader.h"
#include "formats/llama_loader.h"
#include "loam/tokenizer.h"

namespace loam {

namespace {

// GGUF keys llama.cpp's llama2.c converter writes; rope base and epsilon are run.c's constants.
constexpr float kLlama2cRopeBase = 10000.0f;
constexpr float kLlama2cRmsEps = 1e-5f;

// An integer key when present and an integer; 0 otherwise (some architectures store per-layer
// arrays under the same names, which the rules here do not need).
int int_or_zero(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  int64_t out = 0;
  if (v == nullptr || !v->to_int(out) || out < 0 || out > (1 << 30)) return 0;
  return static_cast<int>(out);
}

std::string file_stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name.empty() ? "llama" : name;
}

void put(std::vector<GgufKeyValue>& kv, const std::string& key, GgufValue v) {
  for (GgufKeyValue& e : kv) {
    if (e.key == key) {
      e.value = std::move(v);
      return;
    }
  }
  kv.push_back({key, std::move(v)});
}

Status check_input_types(const std::string& path, const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) {
    if (t.type == DType::F32 || t.type == DType::F16 || t.type == DType::BF16) continue;
    const char* name = dtype_name(t.type);
    const std::string type = name ? name : "#" + std::to_string(static_cast<uint32_t>(t.type));
    if (dtype_info(t.type).block_size > 1) {
      return Status::error(path + ": tensor '" + t.name + "' is already quantized (" + type +
                           "); quantize needs an F32, F16 or BF16 model");
    }
    return Status::error(path + ": tensor '" + t.name + "' has type " + type +
                         "; quantize needs F32, F16 or BF16 tensors");
  }
  return Status::ok();
}

Status open_gguf(std::shared_ptr<const MappedFile> file, const std::string& tokenizer_path,
                 QuantizeSource& s) {
  GgufFile gguf;
  LOAM_TRY(GgufFile::parse(file, gguf));
  const std::string& path = file->path();
  int64_t n_split = 1;
  LOAM_TRY(gguf.get_int_opt("split.count", n_split));
  if (n_split > 1) {
    return Status::error(path + ": is one part of a split model (split.count " +
                         std::to_string(n_split) + "); merge the parts first");
  }
  std::string arch;
  LOAM_TRY(gguf.get_string("general.architecture", arch));
  int64_t n_layer = 0;
  LOAM_TRY(gguf.get_int(arch + ".block_count", n_layer));
  if (n_layer <= 0 || n_layer > 100000) {
    return Status::error(path + ": key '" + arch + ".block_count' is " + std::to_string(n_layer));
  }
  s.model.arch = arch;
  s.model.n_layer = static_cast<int>(n_layer);
  s.model.n_expert = int_or_zero(gguf, arch + ".expert_count");
  s.model.n_head = int_or_zero(gguf, arch + ".attention.head_count");
  s.model.n_head_kv = int_or_zero(gguf, arch + ".attention.head_count_kv");
  if (s.model.n_head_kv == 0) s.model.n_head_kv = s.model.n_head;

  for (const GgufKeyValue& kv : gguf.metadata()) {
    // A single output file: the split keys of a one-part "split" would only confuse readers.
    if (kv.key.compare(0, 6, "split.") == 0) continue;
    s.metadata.push_back(kv);
  }
  for (const GgufTensorInfo& info : gguf.tensors()) s.tensors.push_back(tensor_from_info(info));
  s.alignment = gguf.alignment();

  if (!tokenizer_path.empty()) {
    if (gguf.has("tokenizer.ggml.tokens")) {
      return Status::error(path + " already has a vocabulary (tokenizer.ggml.tokens); "
                           "--tokenizer is for inputs without one");
    }
    const GgufTensorInfo* embd = gguf.find_tensor("token_embd.weight");
    if (embd == nullptr) {
      return Status::error(path + ": no token_embd.weight to tell the vocabulary size");
    }
    Vocab vocab;
    LOAM_TRY(load_llama2c_tokenizer(tokenizer_path, static_cast<int32_t>(embd->ne[1]), vocab));
    for (GgufKeyValue& kv : vocab_metadata(vocab)) put(s.metadata, kv.key, std::move(kv.value));
  }
  return Status::ok();
}

Status open_llama2c(const MappedFile& file, const std::string& tokenizer_path,
                    QuantizeSource& s) {
  Llama2cHeader h;
  LOAM_TRY(read_llama2c(file, h, s.tensors));
  if (tokenizer_path.empty()) {
    return Status::error(file.path() + " is a llama2.c checkpoint, which has no vocabulary: "
                         "give its tokenizer.bin with --tokenizer");
  }
  Vocab vocab;
  LOAM_TRY(load_llama2c_tokenizer(tokenizer_path, h.vocab_size, vocab));

  // The keys llama.cpp's convert-llama2c-to-ggml example writes, plus the rope base and the
  // vocab size (which readers would otherwise assume), then the vocabulary.
  auto u32 = [](int32_t v) { return GgufValue::make_u32(static_cast<uint32_t>(v)); };
  std::vector<GgufKeyValue>& kv = s.metadata;
  kv.push_back({"general.architecture", GgufValue::make_string("llama")});
  kv.push_back({"general.name", GgufValue::make_string(file_stem(file.path()))});
  kv.push_back({"llama.context_length", u32(h.seq_len)});
  kv.push_back({"llama.embedding_length", u32(h.dim)});
  kv.push_back({"llama.feed_forward_length", u32(h.hidden_dim)});
  kv.push_back({"llama.attention.head_count", u32(h.n_heads)});
  kv.push_back({"llama.attention.head_count_kv", u32(h.n_kv_heads)});
  kv.push_back({"llama.block_count", u32(h.n_layers)});
  kv.push_back({"llama.rope.dimension_count", u32(h.dim / h.n_heads)});
  kv.push_back({"llama.rope.freq_base", GgufValue::make_f32(kLlama2cRopeBase)});
  kv.push_back({"llama.attention.layer_norm_rms_epsilon", GgufValue::make_f32(kLlama2cRmsEps)});
  kv.push_back({"llama.vocab_size", u32(h.vocab_size)});
  for (GgufKeyValue& v : vocab_metadata(vocab)) kv.push_back(std::move(v));

  s.alignment = 32;
  s.model.arch = "llama";
  s.model.n_layer = h.n_layers;
  s.model.n_head = h.n_heads;
  s.model.n_head_kv = h.n_kv_heads;
  return Status::ok();
}

}  // namespace

std::vector<GgufKeyValue> vocab_metadata(const Vocab& vocab) {
  std::vector<int32_t> types(vocab.types.size());
  for (size_t i = 0; i < types.size(); ++i) types[i] = static_cast<int32_t>(vocab.types[i]);
  auto id = [](int32_t v) { return GgufValue::make_u32(static_cast<uint32_t>(v)); };
  return {
      {"tokenizer.ggml.model", GgufValue::make_string(vocab.model)},
      {"tokenizer.ggml.tokens", GgufValue::make_string_array(vocab.pieces)},
      {"tokenizer.ggml.scores", GgufValue::make_f32_array(vocab.scores)},
      {"tokenizer.ggml.token_type", GgufValue::make_i32_array(types)},
      {"tokenizer.ggml.bos_token_id", id(vocab.bos_id)},
      {"tokenizer.ggml.eos_token_id", id(vocab.eos_id)},
      {"tokenizer.ggml.unknown_token_id", id(vocab.unk_id)},
      {"tokenizer.ggml.add_bos_token", GgufValue::make_bool(vocab.add_bos)},
      {"tokenizer.ggml.add_space_prefix", GgufValue::make_bool(vocab.add_space_prefix)},
  };
}

Status open_quantize_source(const std::string& path, const std::string& tokenizer_path,
                            QuantizeSource& out) {
  if (is_hf_checkpoint_path(path)) {
    if (!tokenizer_path.empty()) {
      return Status::error(path + " is a Hugging Face checkpoint: its tokenizer.json is used, "
                           "--tokenizer is not");
    }
    return open_hf_quantize_source(path, out);
  }
  QuantizeSource s;
  s.path = path;
  LOAM_TRY(MappedFile::open(path, s.mapping));
  if (s.mapping->size() >= 4 && std::memcmp(s.mapping->data(), "GGUF", 4) == 0) {
    s.format = "gguf";
    LOAM_TRY(open_gguf(s.mapping, tokenizer_path, s));
  } else {
    s.format = "llama2c";
    LOAM_TRY(open_llama2c(*s.mapping, tokenizer_path, s));
  }
  LOAM_TRY(check_input_types(path, s.tensors));
  out = std::move(s);
  return Status::ok();
}

}  // namespace loam
