// Helpers for the model-file tests: tiny llama GGUF models written with GgufWriter (valid by
// default, with knobs that break exactly one thing), a byte builder for hand-made headers, and
// an error-message check.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/fp16.h"
#include "formats/gguf_writer.h"
#include "loam/dtype.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"

namespace loam_test {

struct TinyLlamaSpec {
  int n_embd = 32;
  int n_layer = 2;
  int n_head = 4;
  int n_head_kv = 2;
  int n_ff = 48;
  int n_vocab = 16;
  int n_ctx = 64;
  std::string arch = "llama";
  std::string name = "tiny-test";           // general.name
  uint32_t alignment = 32;
  bool tied = false;                        // omit output.weight
  bool with_vocab = true;                   // write tokenizer.ggml.* keys
  loam::DType norm_type = loam::DType::F32; // type of the norm vectors (F32, F16 or BF16)
  std::string omit_tensor;                  // leave this tensor out
  std::string grow_tensor;                  // give this tensor one row too many
  std::string odd_tensor;                   // write this tensor as odd_type (junk bytes)
  loam::DType odd_type = loam::DType::F32;
  std::vector<loam::GgufKeyValue> extra_keys;  // set after the standard keys (may replace them)
  std::vector<float> rope_freqs;            // written as rope_freqs.weight (F32) when not empty
};

// The smallest model the loader accepts (one layer, dim 8), so that cutting or corrupting it at
// every byte, or mutating every field, stays cheap.
inline TinyLlamaSpec smallest_llama() {
  TinyLlamaSpec spec;
  spec.n_embd = 8;
  spec.n_layer = 1;
  spec.n_head = 2;
  spec.n_head_kv = 1;
  spec.n_ff = 8;
  spec.n_vocab = 4;
  return spec;
}

// Deterministic weight values: element i of the tensor with index `seed`.
inline float tiny_weight(int seed, int64_t i) {
  return 0.02f * std::sin(0.37f * static_cast<float>(i) + 1.3f * static_cast<float>(seed));
}

inline std::vector<uint8_t> tiny_tensor_bytes(loam::DType type, int seed, int64_t n) {
  std::vector<uint8_t> out;
  if (type == loam::DType::F32) {
    out.resize(static_cast<size_t>(n) * 4);
    for (int64_t i = 0; i < n; ++i) {
      const float v = tiny_weight(seed, i);
      std::memcpy(out.data() + i * 4, &v, 4);
    }
  } else if (type == loam::DType::F16 || type == loam::DType::BF16) {
    out.resize(static_cast<size_t>(n) * 2);
    for (int64_t i = 0; i < n; ++i) {
      const float v = 1.0f + tiny_weight(seed, i);
      const uint16_t h = type == loam::DType::F16 ? loam::fp32_to_fp16(v)
                                                  : static_cast<uint16_t>(loam::fp32_to_bits(v) >> 16);
      std::memcpy(out.data() + i * 2, &h, 2);
    }
  } else {
    // Any other type: junk bytes of the right size (only the loader's type check reads them).
    const size_t bytes = loam::dtype_row_bytes(type, n);
    out.assign(bytes, 0x11);
  }
  return out;
}

inline loam::Status write_tiny_llama(const std::string& path, const TinyLlamaSpec& s) {
  using loam::DType;
  using loam::GgufValue;
  loam::GgufWriter w;
  const std::string a = s.arch + ".";
  w.set("general.architecture", GgufValue::make_string(s.arch));
  w.set("general.name", GgufValue::make_string(s.name));
  const loam::Status align = w.set_alignment(s.alignment);
  if (!align) return align;
  w.set(a + "context_length", GgufValue::make_u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(a + "embedding_length", GgufValue::make_u32(static_cast<uint32_t>(s.n_embd)));
  w.set(a + "block_count", GgufValue::make_u32(static_cast<uint32_t>(s.n_layer)));
  w.set(a + "feed_forward_length", GgufValue::make_u32(static_cast<uint32_t>(s.n_ff)));
  w.set(a + "attention.head_count", GgufValue::make_u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + "attention.head_count_kv", GgufValue::make_u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::make_f32(1e-6f));
  w.set(a + "rope.freq_base", GgufValue::make_f32(500000.0f));
  if (s.with_vocab) {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (int i = 0; i < s.n_vocab; ++i) {
      tokens.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t" + std::to_string(i));
      scores.push_back(-static_cast<float>(i));
      types.push_back(i == 0 ? 2 : i < 3 ? 3 : 1);
    }
    w.set("tokenizer.ggml.model", GgufValue::make_string("llama"));
    w.set("tokenizer.ggml.tokens", GgufValue::make_string_array(tokens));
    w.set("tokenizer.ggml.scores", GgufValue::make_f32_array(scores));
    w.set("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
    w.set("tokenizer.ggml.bos_token_id", GgufValue::make_u32(1));
    w.set("tokenizer.ggml.eos_token_id", GgufValue::make_u32(2));
  }
  for (const loam::GgufKeyValue& kv : s.extra_keys) w.set(kv.key, kv.value);
  const int64_t d = s.n_embd, hd = s.n_embd / s.n_head, kv = hd * s.n_head_kv;
  int seed = 0;
  loam::Status st;
  auto add = [&](const std::string& name, DType type, int64_t cols, int64_t rows) {
    ++seed;
    if (!st || name == s.omit_tensor) return;
    if (name == s.grow_tensor) rows += 1;
    if (name == s.odd_tensor) type = s.odd_type;
    const std::vector<uint8_t> bytes = tiny_tensor_bytes(type, seed, cols * rows);
    std::vector<int64_t> ne = {cols};
    if (rows > 1 || name == s.grow_tensor) ne.push_back(rows);
    st = w.add_tensor(name, type, ne, bytes.data(), bytes.size());
  };
  add("token_embd.weight", DType::F32, d, s.n_vocab);
  if (st && !s.rope_freqs.empty()) {
    st = w.add_tensor("rope_freqs.weight", DType::F32, {static_cast<int64_t>(s.rope_freqs.size())},
                      s.rope_freqs.data(), s.rope_freqs.size() * sizeof(float));
  }
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", s.norm_type, d, 1);
    add(p + "attn_q.weight", DType::F32, d, d);
    add(p + "attn_k.weight", DType::F32, d, kv);
    add(p + "attn_v.weight", DType::F32, d, kv);
    add(p + "attn_output.weight", DType::F32, d, d);
    add(p + "ffn_norm.weight", s.norm_type, d, 1);
    add(p + "ffn_gate.weight", DType::F32, d, s.n_ff);
    add(p + "ffn_up.weight", DType::F32, d, s.n_ff);
    add(p + "ffn_down.weight", DType::F32, s.n_ff, d);
  }
  add("output_norm.weight", s.norm_type, d, 1);
  if (!s.tied) add("output.weight", DType::F32, d, s.n_vocab);
  if (!st) return st;
  return w.write(path);
}

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Checks that `st` failed and that its message contains each string given after it.
#define CHECK_ERROR(st, ...)                                                           \
  do {                                                                                 \
    const ::loam::Status loam_st_ = (st);                                              \
    CHECK(!loam_st_);                                                                  \
    for (const char* part : {__VA_ARGS__}) {                                           \
      if (!::loam_test::contains(loam_st_.message(), part))                            \
        ::loam_test::record_failure(__FILE__, __LINE__,                                \
                                    "message \"" + loam_st_.message() +                \
                                        "\" lacks \"" + part + "\"");                  \
    }                                                                                  \
  } while (0)

inline std::string tmp(const std::string& name) { return loam_test::temp_dir() + "/" + name; }

inline loam::Status load(const std::string& path) {
  loam::Model m;
  return loam::load_model(path, loam::LoadOptions{}, m);
}

// Little-endian byte builder for hand-made headers.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& raw(const void* p, size_t n) {
    const uint8_t* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s.data(), s.size()); }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return raw("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  }
  Bytes& pad(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
  std::string write(const std::string& name) const {
    const std::string path = tmp(name);
    loam_test::write_all(path, b);
    return path;
  }
};

// Writes `full` to `path`, then calls check(n) with the file cut to each length n from
// full.size() - 1 down to 0. (Cutting with truncate() is ~100x faster here than rewriting the
// file each time: ext4 flushes a file that is truncated to zero and rewritten.)
template <class Check>
void for_each_truncation(const std::string& path, const std::vector<uint8_t>& full, Check check) {
  loam_test::write_all(path, full);
  for (size_t n = full.size(); n-- > 0;) {
    if (truncate(path.c_str(), static_cast<off_t>(n)) != 0) {
      CHECK(false);
      return;
    }
    check(n);
  }
}

inline std::string write_tiny(const std::string& name, const loam_test::TinyLlamaSpec& spec) {
  const std::string path = tmp(name);
  const loam::Status st = loam_test::write_tiny_llama(path, spec);
  if (!st) std::fprintf(stderr, "  fixture: %s\n", st.message().c_str());
  return path;
}

}  // namespace loam_test
