// HF checkpoint directory -> the tensors and metadata of the equivalent GGUF file.
#include "formats/hf_checkpoint.h"

#include <sys/stat.h>

#include <cstring>

#include "core/fp16.h"
#include "core/mmap_file.h"

namespace loam {

namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status read_text(const std::string& path, std::string& out) {
  std::shared_ptr<const MappedFile> f;
  LOAM_TRY(MappedFile::open(path, f));
  out.assign(reinterpret_cast<const char*>(f->data()), f->size());
  return Status::ok();
}

// HF tensor name -> GGUF tensor name (llama.cpp's gguf-py tensor map for LLAMA); "" for a
// tensor the model does not use (rotary_emb.inv_freq, recomputed from the config).
bool gguf_name(const std::string& hf, std::string& out) {
  static const std::pair<const char*, const char*> kGlobal[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (const auto& [from, to] : kGlobal) {
    if (hf == from) {
      out = to;
      return true;
    }
  }
  static const std::pair<const char*, const char*> kLayer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"self_attn.rotary_emb.inv_freq", ""},
  };
  const std::string prefix = "model.layers.";
  if (hf.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), j = i;
  while (j < hf.size() && hf[j] >= '0' && hf[j] <= '9' && j - i < 6) ++j;
  if (j == i || j >= hf.size() || hf[j] != '.') return false;
  const std::string layer = hf.substr(i, j - i), rest = hf.substr(j + 1);
  for (const auto& [from, to] : kLayer) {
    if (rest == from) {
      out = *to ? "blk." + layer + "." + to : "";
      return true;
    }
  }
  return false;
}

Tensor view_of(const SafetensorsTensor& s, const std::string& name) {
  Tensor t;
  t.name = name;
  t.type = s.type;
  t.n_dims = s.n_dims;
  for (int d = 0; d < 4; ++d) t.ne[d] = s.ne[d];
  t.data = s.data;
  t.nbytes = s.nbytes;
  return t;
}

// A vector of F32 values as an owned 1-D tensor.
Tensor owned_f32(const std::string& name, const std::vector<float>& values,
                 std::vector<std::shared_ptr<const std::vector<uint8_t>>>& owned) {
  auto buf = std::make_shared<std::vector<uint8_t>>(values.size() * sizeof(float));  // [n] f32
  if (!values.empty()) std::memcpy(buf->data(), values.data(), buf->size());
  Tensor t;
  t.name = name;
  t.type = DType::F32;
  t.n_dims = 1;
  t.ne[0] = static_cast<int64_t>(values.size());
  t.data = buf->data();
  t.nbytes = buf->size();
  owned.push_back(std::move(buf));
  return t;
}

std::vector<float> to_f32(const SafetensorsTensor& s) {
  const size_t n = static_cast<size_t>(s.elements());
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    if (s.type == DType::F32) {
      std::memcpy(&v[i], s.data + 4 * i, 4);  // memcpy: the source need not be aligned
    } else {
      uint16_t h;
      std::memcpy(&h, s.data + 2 * i, 2);
      v[i] = s.type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
  }
  return v;
}

}  // namespace

void permute_rope_rows(const uint8_t* src, uint8_t* dst, int64_t n_head, int64_t head_dim,
                       size_t row_bytes) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t j = 0; j < half; ++j) {
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t from = h * head_dim + s * half + j;  // HF: halves
        const int64_t to = h * head_dim + 2 * j + s;       // GGUF: adjacent pairs
        std::memcpy(dst + static_cast<size_t>(to) * row_bytes,
                    src + static_cast<size_t>(from) * row_bytes, row_bytes);
      }
    }
  }
}

bool is_hf_checkpoint_path(const std::string& path) {
  if (is_dir(path)) return is_file(path + "/config.json");
  return ends_with(path, ".safetensors") && is_file(path);
}

Status open_hf_checkpoint(const std::string& path, HfCheckpoint& out) {
  HfCheckpoint c;
  const bool single_file = !is_dir(path);
  if (single_file) {
    const size_t slash = path.rfind('/');
    c.dir = slash == std::string::npos ? "." : path.substr(0, slash);
  } else {
    c.dir = path;
    while (c.dir.size() > 1 && c.dir.back() == '/') c.dir.pop_back();
  }
  const std::string config_path = c.dir + "/config.json";
  if (!is_file(config_path)) {
    return Status::error(path + ": no config.json in " + c.dir +
                         " (a Hugging Face checkpoint needs config.json, tokenizer.json and "
                         "model.safetensors)");
  }
  std::string text;
  LOAM_TRY(read_text(config_path, text));
  LOAM_TRY(parse_hf_config(text, config_path, c.config));
  if (const std::string gen = c.dir + "/generation_config.json"; is_file(gen)) {
    LOAM_TRY(read_text(gen, text));
    LOAM_TRY(parse_hf_generation_config(text, gen, c.config));
  }

  const std::string tok_path = c.dir + "/tokenizer.json";
  if (!is_file(tok_path)) {
    if (is_file(c.dir + "/tokenizer.model")) {
      return Status::error(c.dir + ": only a SentencePiece tokenizer.model is present; loam reads "
                           "tokenizer.json (byte-level BPE) from Hugging Face directories");
    }
    return Status::error(c.dir + ": no tokenizer.json");
  }
  LOAM_TRY(read_text(tok_path, text));
  LOAM_TRY(parse_hf_tokenizer_json(text, tok_path, c.tokenizer));
  if (const std::string tc = c.dir + "/tokenizer_config.json"; is_file(tc)) {
    LOAM_TRY(read_text(tc, text));
    LOAM_TRY(parse_hf_tokenizer_config(text, tc, c.tokenizer));
  }
  LOAM_TRY(pad_hf_vocab(c.tokenizer, c.config.vocab_size, tok_path));
  const int64_t n_vocab = c.config.vocab_size;
  // tokenizer_config's token texts win; config.json's ids fill what it does not name (as
  // gguf-py's SpecialVocab does).
  if (c.tokenizer.bos_id < 0 && c.config.bos_token_id >= 0) {
    c.tokenizer.bos_id = static_cast<int32_t>(c.config.bos_token_id);
  }
  if (c.tokenizer.eos_id < 0 && !c.config.eos_token_ids.empty()) {
    c.tokenizer.eos_id = static_cast<int32_t>(c.config.eos_token_ids[0]);
  }
  for (const int64_t id : {int64_t{c.tokenizer.bos_id}, int64_t{c.tokenizer.eos_id}}) {
    if (id >= n_vocab) {
      return Status::error(config_path + ": special token id " + std::to_string(id) +
                           " is outside the vocabulary (" + std::to_string(n_vocab) + ")");
    }
  }
  for (const int64_t id : c.config.eos_token_ids) {
    if (id >= n_vocab) {
      return Status::error(config_path + ": eos_token_id " + std::to_string(id) +
                           " is outside the vocabulary (" + std::to_string(n_vocab) + ")");
    }
  }

  if (single_file) {
    if (is_file(c.dir + "/model.safetensors.index.json")) {
      LOAM_TRY(SafetensorsSet::open_dir(c.dir, c.weights));
    } else {
      LOAM_TRY(SafetensorsSet::open_file(path, c.weights));
    }
  } else {
    LOAM_TRY(SafetensorsSet::open_dir(c.dir, c.weights));
  }
  out = std::move(c);
  return Status::ok();
}

Status read_hf_chat_template(const std::string& path, std::string& out) {
  out.clear();
  std::string dir = path;
  if (!is_dir(path)) {
    const size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : path.substr(0, slash);
  }
  const std::string tc = dir + "/tokenizer_config.json";
  if (!is_file(tc)) return Status::ok();
  std::string text;
  LOAM_TRY(read_text(tc, text));
  return parse_hf_chat_template(text, tc, out);
}

Status hf_gguf_tensors(const HfCheckpoint& ckpt, std::vector<Tensor>& tensors,
                       std::vector<std::shared_ptr<const std::vector<uint8_t>>>& owned) {
  const HfConfig& cfg = ckpt.config;
  tensors.clear();
  bool have_embd = false, have_head = false;
  for (const SafetensorsTensor* s : ckpt.weights.tensors()) {
    std::string name;
    if (!gguf_name(s->name, name)) {
      return Status::error(s->file->path() + ": tensor '" + s->name +
                           "' is not part of a " + cfg.architecture + " model");
    }
    if (name.empty()) continue;
    have_embd = have_embd || name == "token_embd.weight";
    if (name == "output.weight") {
      // Tied models may still carry a copy of the embeddings as lm_head; the tie wins, as in
      // transformers.
      if (cfg.tie_word_embeddings) continue;
      have_head = true;
    }
    if (s->n_dims == 1) {
      tensors.push_back(owned_f32(name, to_f32(*s), owned));
      continue;
    }
    Tensor t = view_of(*s, name);
    const bool is_q = ends_with(name, ".attn_q.weight"), is_k = ends_with(name, ".attn_k.weight");
    if (is_q || is_k) {
      const int64_t n_head = is_q ? cfg.num_attention_heads : cfg.num_key_value_heads;
      if (t.n_dims != 2 || t.ne[1] != n_head * cfg.head_dim) {
        return Status::error(s->file->path() + ": tensor '" + s->name + "' has " +
                             std::to_string(t.ne[1]) + " rows, expected " +
                             std::to_string(n_head) + " heads x " + std::to_string(cfg.head_dim));
      }
      // An owned copy in GGUF's row order. Why copy rather than a rotate-half RoPE for these
      // models: one RoPE in the forward pass (which the kernels and the lead's rewrite share
      // with GGUF), and tensors byte-identical to the converted file's, so a directory and its
      // conversion give the same logits. Cost, measured for Llama-3-8B shapes (32 layers of
      // q 4096x4096 + k 1024x4096 BF16): 1.25 GiB copied (8% of the 15 GiB of weights) in
      // 0.3 s on this machine, against reading the 15 GiB from disk on a cold start.
      auto buf = std::make_shared<std::vector<uint8_t>>(t.nbytes);  // [rows][row bytes]
      permute_rope_rows(s->data, buf->data(), n_head, cfg.head_dim, t.nbytes / t.ne[1]);
      t.data = buf->data();
      owned.push_back(std::move(buf));
    }
    tensors.push_back(t);
  }
  if (!have_embd) {
    return Status::error(ckpt.dir + ": no model.embed_tokens.weight in the safetensors files");
  }
  if (!cfg.tie_word_embeddings && !have_head) {
    return Status::error(ckpt.dir + ": config.json has tie_word_embeddings false but there is "
                         "no lm_head.weight");
  }
  if (!cfg.rope_freq_factors.empty()) {
    // The converter writes it after token_embd (generate_extra_tensors comes first).
    Tensor rf = owned_f32("rope_freqs.weight", cfg.rope_freq_factors, owned);
    size_t at = 0;
    while (at < tensors.size() && tensors[at].name != "token_embd.weight") ++at;
    tensors.insert(tensors.begin() + static_cast<std::ptrdiff_t>(at < tensors.size() ? at + 1 : 0),
                   rf);
  }
  return Status::ok();
}

std::vector<GgufKeyValue> hf_gguf_metadata(const HfCheckpoint& ckpt, uint32_t file_type) {
  const HfConfig& c = ckpt.config;
  const HfTokenizer& tok = ckpt.tokenizer;
  std::vector<GgufKeyValue> kv;
  auto add = [&kv](const std::string& key, GgufValue v) { kv.push_back({key, std::move(v)}); };
  auto u32 = [](int64_t v) { return GgufValue::make_u32(static_cast<uint32_t>(v)); };
  std::string name = ckpt.dir;
  if (const size_t slash = name.rfind('/'); slash != std::string::npos) {
    name = name.substr(slash + 1);
  }
  add("general.architecture", GgufValue::make_string("llama"));
  add("general.name", GgufValue::make_string(name));
  add("llama.context_length", u32(c.max_position_embeddings));
  add("llama.embedding_length", u32(c.hidden_size));
  add("llama.block_count", u32(c.num_hidden_layers));
  add("llama.feed_forward_length", u32(c.intermediate_size));
  add("llama.rope.dimension_count", u32(c.head_dim));
  add("llama.attention.head_count", u32(c.num_attention_heads));
  add("llama.attention.head_count_kv", u32(c.num_key_value_heads));
  add("llama.rope.freq_base", GgufValue::make_f32(static_cast<float>(c.rope_theta)));
  add("llama.attention.layer_norm_rms_epsilon",
      GgufValue::make_f32(static_cast<float>(c.rms_norm_eps)));
  add("llama.vocab_size", u32(c.vocab_size));
  add("general.file_type", GgufValue::make_u32(file_type));
  add("tokenizer.ggml.model", GgufValue::make_string("gpt2"));
  add("tokenizer.ggml.pre", GgufValue::make_string(tok.pre));
  add("tokenizer.ggml.tokens", GgufValue::make_string_array(tok.pieces));
  std::vector<int32_t> types(tok.types.size());
  for (size_t i = 0; i < types.size(); ++i) types[i] = static_cast<int32_t>(tok.types[i]);
  add("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
  add("tokenizer.ggml.merges", GgufValue::make_string_array(tok.merges));
  if (tok.bos_id >= 0) add("tokenizer.ggml.bos_token_id", u32(tok.bos_id));
  if (tok.eos_id >= 0) add("tokenizer.ggml.eos_token_id", u32(tok.eos_id));
  add("tokenizer.ggml.add_bos_token", GgufValue::make_bool(tok.add_bos));
  if (!tok.chat_template.empty()) {
    add("tokenizer.chat_template", GgufValue::make_string(tok.chat_template));
  }
  return kv;
}

}  // namespace loam
