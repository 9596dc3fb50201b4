// Hugging Face checkpoint directories written by the tests themselves: a small safetensors
// writer (with knobs to corrupt the header), config.json, tokenizer.json and
// tokenizer_config.json for a tiny byte-level BPE vocabulary, and a RefModel (the independent
// reference of tests/reference/llama_reference.h, in GGUF's RoPE convention) stored with Q and K
// rows in HF's rotate-half order. Nothing here includes src/.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "reference/llama_reference.h"

namespace hf_fixture {

struct StTensor {
  std::string name;
  std::string dtype;             // "F32", "F16", "BF16" (or anything, to test refusals)
  std::vector<int64_t> shape;    // safetensors order: rows first
  std::string bytes;
};

inline std::string f32_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Rounds to the dtype and returns the stored bytes; `rounded` gets the values read back.
inline std::string encode(const std::vector<float>& v, const std::string& dtype,
                          std::vector<float>* rounded = nullptr) {
  if (rounded) rounded->resize(v.size());
  if (dtype == "F32") {
    if (rounded) *rounded = v;
    return f32_bytes(v);
  }
  std::string out(v.size() * 2, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h = 0;
    double back = 0;
    if (dtype == "F16") {
      h = loam_ref::double_to_half_bits(v[i]);
      back = loam_ref::half_bits_to_double(h);
    } else {
      h = loam_ref::float_to_bf16_bits(v[i]);
      back = loam_ref::bf16_bits_to_double(h);
    }
    std::memcpy(&out[2 * i], &h, 2);
    if (rounded) (*rounded)[i] = static_cast<float>(back);
  }
  return out;
}

// Corruptions of the header a test can ask for.
struct StOptions {
  int64_t end_shift = 0;        // added to the last tensor's end offset (past the end, ...)
  bool overlap = false;         // the second tensor starts 2 bytes early
  std::string header_override;  // non-empty: written instead of the generated JSON
};

inline void write_safetensors(const std::string& path, const std::vector<StTensor>& tensors,
                              const StOptions& opt = {}) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::string data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const StTensor& t = tensors[i];
    int64_t begin = static_cast<int64_t>(data.size());
    data += t.bytes;
    int64_t end = static_cast<int64_t>(data.size());
    if (opt.overlap && i == 1) begin -= 2, end -= 2;
    if (i + 1 == tensors.size()) end += opt.end_shift;
    header += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) {
      header += (d ? "," : "") + std::to_string(t.shape[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  }
  header += "}";
  if (!opt.header_override.empty()) header = opt.header_override;
  // Padded with spaces to a multiple of 8, as the safetensors library does, so F32 data stays
  // 4-byte aligned.
  while ((header.size() + 8) % 8 != 0) header += ' ';
  std::string file(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  file += header + data;
  std::ofstream(path, std::ios::binary) << file;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string make_dir(const std::string& path) {
  mkdir(path.c_str(), 0755);
  return path;
}

// The Llama 3 split regex as it appears (JSON-escaped) in tokenizer.json.
inline const char* llama3_regex_json() {
  return "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
         "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
}

// Eight tokens: six BPE pieces and two special added tokens (ids 6 and 7).
inline std::string tokenizer_json(bool merges_as_pairs) {
  const std::string merges = merges_as_pairs ? "[[\"a\",\"b\"],[\"\\u0120\",\"a\"]]"
                                             : "[\"a b\",\"\\u0120 a\"]";
  return std::string("{\"version\":\"1.0\",\"added_tokens\":[") +
         "{\"id\":6,\"content\":\"<|begin_of_text|>\",\"special\":true},"
         "{\"id\":7,\"content\":\"<|end_of_text|>\",\"special\":true}],"
         "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
         "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"" + llama3_regex_json() +
         "\"},\"behavior\":\"Isolated\",\"invert\":false},"
         "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
         "\"use_regex\":false}]},"
         "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
         "{\"SpecialToken\":{\"id\":\"<|begin_of_text|>\",\"type_id\":0}},"
         "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]},"
         "\"decoder\":{\"type\":\"ByteLevel\"},"
         "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,"
         "\"\\u0120\":4,\"\\u0120a\":5},\"merges\":" + merges + "}}";
}

inline std::string tokenizer_config_json() {
  return "{\"bos_token\":\"<|begin_of_text|>\",\"eos_token\":\"<|end_of_text|>\","
         "\"chat_template\":\"{{ bos_token }}{% for m in messages %}{{ m['content'] }}"
         "{% endfor %}\"}";
}

struct Spec {
  loam_ref::RefConfig c;
  std::string dtype = "F32";        // matrices; norms are always F32
  bool tied = true;
  bool llama3_rope = false;
  bool merges_as_pairs = false;
  int shards = 1;                   // > 1: model-0000k-of-0000n.safetensors + index
};

inline loam_ref::RefConfig tiny_config(bool tied) {
  loam_ref::RefConfig c = loam_ref::make_config(32, 64, 2, 4, 2, 8, tied, 64);
  c.rope_base = 10000.0;
  c.rms_eps = 1e-5;
  return c;
}

// Hand-written HF llama3 factors (transformers' _compute_llama3_parameters, as divisors).
inline std::vector<double> llama3_factors(double base, int head_dim, double factor, double low,
                                          double high, double original) {
  std::vector<double> out;
  for (int i = 0; i < head_dim; i += 2) {
    const double inv = 1.0 / std::pow(base, static_cast<double>(i) / head_dim);
    const double wavelen = 2.0 * 3.14159265358979323846 / inv;
    if (wavelen < original / high) out.push_back(1.0);
    else if (wavelen > original / low) out.push_back(factor);
    else {
      const double s = (original / wavelen - low) / (high - low);
      out.push_back(1.0 / ((1.0 - s) / factor + s));
    }
  }
  return out;
}

// HF's row order of one [n_head * hd][cols] matrix given in GGUF's: HF row h*hd + s*hd/2 + j is
// GGUF row h*hd + 2j + s.
inline std::vector<float> to_hf_rows(const float* w, int n_head, int hd, int cols) {
  std::vector<float> out(static_cast<size_t>(n_head) * hd * cols);
  for (int h = 0; h < n_head; ++h)
    for (int s = 0; s < 2; ++s)
      for (int j = 0; j < hd / 2; ++j)
        std::memcpy(&out[static_cast<size_t>(h * hd + s * hd / 2 + j) * cols],
                    &w[static_cast<size_t>(h * hd + 2 * j + s) * cols], sizeof(float) * cols);
  return out;
}

// Writes `dir` for a random model and returns the RefModel whose weights are the stored (rounded)
// values, for loam_ref::reference_forward.
inline loam_ref::RefModel write_model_dir(const std::string& dir, const Spec& spec,
                                          uint64_t seed = 7) {
  make_dir(dir);
  loam_ref::RefModel m = loam_ref::make_random_model(spec.c, seed);
  const loam_ref::RefConfig& c = spec.c;
  const int d = c.dim, kv = c.kv_dim(), h = c.hidden, hd = c.head_dim(), V = c.vocab;
  std::vector<StTensor> ts;
  auto add = [&](const std::string& name, std::vector<float>& values, std::vector<int64_t> shape,
                 const std::string& dtype) {
    std::vector<float> rounded;
    ts.push_back({name, dtype, shape, encode(values, dtype, &rounded)});
    values = rounded;  // the reference sees what the file holds
  };
  auto slice = [](std::vector<float>& all, size_t at, size_t n) {
    return std::vector<float>(all.begin() + at, all.begin() + at + n);
  };
  auto put_back = [](std::vector<float>& all, size_t at, const std::vector<float>& part) {
    std::copy(part.begin(), part.end(), all.begin() + at);
  };
  add("model.embed_tokens.weight", m.tok_embd, {V, d}, spec.dtype);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto layer = [&](std::vector<float>& all, size_t n, const std::string& name,
                     std::vector<int64_t> shape, const std::string& dtype, int rope_heads) {
      std::vector<float> part = slice(all, l * n, n);
      if (rope_heads > 0) {
        std::vector<float> hf = to_hf_rows(part.data(), rope_heads, hd, d);
        std::vector<float> rounded;
        ts.push_back({p + name, dtype, shape, encode(hf, dtype, &rounded)});
        // Back to GGUF order for the reference: the inverse of to_hf_rows.
        for (int hh = 0; hh < rope_heads; ++hh)
          for (int s = 0; s < 2; ++s)
            for (int j = 0; j < hd / 2; ++j)
              std::memcpy(&part[static_cast<size_t>(hh * hd + 2 * j + s) * d],
                          &rounded[static_cast<size_t>(hh * hd + s * hd / 2 + j) * d],
                          sizeof(float) * d);
      } else {
        add(p + name, part, shape, dtype);
      }
      put_back(all, l * n, part);
    };
    layer(m.rms_att, d, "input_layernorm.weight", {d}, "F32", 0);
    layer(m.wq, static_cast<size_t>(d) * d, "self_attn.q_proj.weight", {d, d}, spec.dtype,
          c.n_heads);
    layer(m.wk, static_cast<size_t>(kv) * d, "self_attn.k_proj.weight", {kv, d}, spec.dtype,
          c.n_kv_heads);
    layer(m.wv, static_cast<size_t>(kv) * d, "self_attn.v_proj.weight", {kv, d}, spec.dtype, 0);
    layer(m.wo, static_cast<size_t>(d) * d, "self_attn.o_proj.weight", {d, d}, spec.dtype, 0);
    layer(m.rms_ffn, d, "post_attention_layernorm.weight", {d}, "F32", 0);
    layer(m.w1, static_cast<size_t>(h) * d, "mlp.gate_proj.weight", {h, d}, spec.dtype, 0);
    layer(m.w3, static_cast<size_t>(h) * d, "mlp.up_proj.weight", {h, d}, spec.dtype, 0);
    layer(m.w2, static_cast<size_t>(d) * h, "mlp.down_proj.weight", {d, h}, spec.dtype, 0);
  }
  add("model.norm.weight", m.rms_final, {d}, "F32");
  if (!spec.tied) add("lm_head.weight", m.wcls, {V, d}, spec.dtype);

  if (spec.shards <= 1) {
    write_safetensors(dir + "/model.safetensors", ts);
  } else {
    // Tensors dealt to the shards in turn; the index maps each to its file.
    std::vector<std::vector<StTensor>> parts(static_cast<size_t>(spec.shards));
    std::string map;
    for (size_t i = 0; i < ts.size(); ++i) {
      const size_t k = i % parts.size();
      parts[k].push_back(ts[i]);
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", k + 1, spec.shards);
      map += std::string(map.empty() ? "" : ",") + "\"" + ts[i].name + "\":\"" + name + "\"";
    }
    for (size_t k = 0; k < parts.size(); ++k) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", k + 1, spec.shards);
      write_safetensors(dir + "/" + name, parts[k]);
    }
    write_text(dir + "/model.safetensors.index.json",
               "{\"metadata\":{\"total_size\":0},\"weight_map\":{" + map + "}}");
  }

  std::string rope = "null";
  if (spec.llama3_rope) {
    rope = "{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
           "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":64}";
    m.c.rope_freq_factors = llama3_factors(c.rope_base, hd, 8.0, 1.0, 4.0, 64.0);
  }
  write_text(dir + "/config.json",
             "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\","
             "\"hidden_size\":" + std::to_string(d) + ",\"intermediate_size\":" +
             std::to_string(h) + ",\"num_attention_heads\":" + std::to_string(c.n_heads) +
             ",\"num_key_value_heads\":" + std::to_string(c.n_kv_heads) +
             ",\"num_hidden_layers\":" + std::to_string(c.n_layers) +
             ",\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"max_position_embeddings\":" +
             std::to_string(c.seq_len) + ",\"vocab_size\":" + std::to_string(V) +
             ",\"tie_word_embeddings\":" + (spec.tied ? "true" : "false") +
             ",\"bos_token_id\":6,\"eos_token_id\":[7],\"rope_scaling\":" + rope + "}");
  write_text(dir + "/generation_config.json",
             "{\"bos_token_id\":6,\"eos_token_id\":7,\"temperature\":0.6,\"top_p\":0.9}");
  write_text(dir + "/tokenizer.json", tokenizer_json(spec.merges_as_pairs));
  write_text(dir + "/tokenizer_config.json", tokenizer_config_json());
  return m;
}

}  // namespace hf_fixture
