// Seed inputs for the fuzz targets, made at run time rather than committed: GGUF files from our
// own GgufWriter, llama2.c checkpoints and tokenizer.bin files laid out here, and the short text
// seeds committed as line files under tests/fuzz/corpus/<target>/seeds.txt (one seed a line;
// blank lines and lines starting with '#' are skipped). make_seeds.cpp writes them out for
// .ci/fuzz.sh (adding copies of ../shared fixtures); test_fuzz_regressions.cpp runs the bodies
// over them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_writer.h"
#include "formats/llama2c_reader.h"
#include "fuzz/fuzz_support.h"
#include "loam/dtype.h"
#include "loam/gguf.h"

namespace loam_fuzz {

struct Seed {
  std::string name;
  std::string bytes;
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// --- GGUF ----------------------------------------------------------------------------------------

inline void set_vocab(loam::GgufWriter& w, const loam::Vocab& v) {
  using V = loam::GgufValue;
  std::vector<int32_t> types;
  for (loam::TokenType t : v.types) types.push_back(static_cast<int32_t>(t));
  w.set("tokenizer.ggml.model", V::make_string("llama"));
  w.set("tokenizer.ggml.tokens", V::make_string_array(v.pieces));
  w.set("tokenizer.ggml.scores", V::make_f32_array(v.scores));
  w.set("tokenizer.ggml.token_type", V::make_i32_array(types));
  w.set("tokenizer.ggml.unknown_token_id", V::make_u32(0));
  w.set("tokenizer.ggml.bos_token_id", V::make_u32(1));
  w.set("tokenizer.ggml.eos_token_id", V::make_u32(2));
  w.set("tokenizer.ggml.add_bos_token", V::make_bool(true));
  w.set("tokenizer.ggml.add_space_prefix", V::make_bool(true));
}

// A tensor of `type` with ne = {cols, rows} (rows 1: one dimension) and patterned bytes.
inline loam::Status add_tensor(loam::GgufWriter& w, const std::string& name, loam::DType type,
                               int64_t cols, int64_t rows) {
  const size_t bytes = loam::dtype_row_bytes(type, cols) * static_cast<size_t>(rows);
  std::vector<uint8_t> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(i * 37 + 11);
  std::vector<int64_t> ne = {cols};
  if (rows > 1) ne.push_back(rows);
  return w.add_tensor(name, type, ne, data.data(), data.size());
}

// The GGUF seeds (written to a scratch file and read back); `status` tells whether all were
// written.
inline std::vector<Seed> gguf_seeds(loam::Status& status) {
  using V = loam::GgufValue;
  using loam::DType;
  static ScratchFile scratch("seed.gguf");
  std::vector<Seed> seeds;
  status = loam::Status::ok();
  auto emit = [&](const std::string& name, const loam::GgufWriter& w) {
    const loam::Status st = w.write(scratch.path());
    if (!st && status) status = st;
    seeds.push_back({name, read_file(scratch.path())});
  };
  auto check = [&](const loam::Status& st) {
    if (!st && status) status = st;
  };

  // A small llama: every key read_llama_config reads, the built-in vocabulary, and one tensor
  // of each common weight type.
  loam::GgufWriter llama;
  llama.set("general.architecture", V::make_string("llama"));
  llama.set("general.name", V::make_string("fuzz-seed"));
  llama.set("llama.context_length", V::make_u32(64));
  llama.set("llama.embedding_length", V::make_u32(32));
  llama.set("llama.block_count", V::make_u32(1));
  llama.set("llama.feed_forward_length", V::make_u32(64));
  llama.set("llama.attention.head_count", V::make_u32(4));
  llama.set("llama.attention.head_count_kv", V::make_u32(2));
  llama.set("llama.rope.dimension_count", V::make_u32(8));
  llama.set("llama.rope.freq_base", V::make_f32(10000.0f));
  llama.set("llama.attention.layer_norm_rms_epsilon", V::make_f32(1e-5f));
  set_vocab(llama, built_in_vocab());
  check(add_tensor(llama, "token_embd.weight", DType::F16, 32, 8));
  check(add_tensor(llama, "blk.0.attn_norm.weight", DType::F32, 32, 1));
  check(add_tensor(llama, "blk.0.attn_q.weight", DType::Q8_0, 32, 2));
  check(add_tensor(llama, "blk.0.attn_k.weight", DType::BF16, 32, 2));
  check(add_tensor(llama, "blk.0.attn_v.weight", DType::Q4_0, 32, 2));
  check(add_tensor(llama, "blk.0.ffn_up.weight", DType::Q4_K, 256, 1));
  check(add_tensor(llama, "blk.0.ffn_gate.weight", DType::Q5_K, 256, 1));
  check(add_tensor(llama, "blk.0.ffn_down.weight", DType::Q6_K, 256, 1));
  emit("tiny-llama.gguf", llama);
  // The same as version 2 (same layout; the reader takes both).
  seeds.push_back(seeds.back());
  seeds.back().name = "tiny-llama-v2.gguf";
  if (seeds.back().bytes.size() > 4) seeds.back().bytes[4] = 2;

  // A vocabulary alone, as the ../shared vectors are.
  loam::GgufWriter vocab;
  set_vocab(vocab, built_in_vocab());
  emit("vocab-only.gguf", vocab);

  // Every value type, arrays of each, nested arrays, and an alignment other than 32.
  loam::GgufWriter types;
  check(types.set_alignment(64));
  types.set("t.u8", V::make_u8(200));
  types.set("t.i8", V::make_i8(-100));
  types.set("t.u16", V::make_u16(60000));
  types.set("t.i16", V::make_i16(-30000));
  types.set("t.u32", V::make_u32(4000000000u));
  types.set("t.i32", V::make_i32(-2000000000));
  types.set("t.u64", V::make_u64(UINT64_MAX));
  types.set("t.i64", V::make_i64(INT64_MIN));
  types.set("t.f32", V::make_f32(0.5f));
  types.set("t.f64", V::make_f64(-1e300));
  types.set("t.bool", V::make_bool(true));
  types.set("t.string", V::make_string("h\xC3\xA9llo\n"));
  types.set("t.strings", V::make_string_array({"a", "", "\xE6\x97\xA5"}));
  types.set("t.f32s", V::make_f32_array({1.0f, -2.5f}));
  types.set("t.i32s", V::make_i32_array({1, -1, 7}));
  using T = loam::GgufType;
  for (T t : {T::U8, T::I8, T::U16, T::I16, T::U32, T::I32, T::U64, T::I64, T::F64, T::Bool}) {
    const size_t n = 3 * loam::gguf_type_size(t);
    std::vector<uint8_t> raw(n);
    for (size_t i = 0; i < n; ++i) raw[i] = static_cast<uint8_t>(0xF0 + i);
    types.set(std::string("t.raw.") + loam::gguf_type_name(t), V::make_raw_array(t, raw));
  }
  types.set("t.nested", V::make_nested_array({V::make_i32_array({1, 2}),
                                              V::make_nested_array({V::make_f32_array({3.0f})})}));
  check(add_tensor(types, "x", DType::F32, 4, 1));
  emit("all-types.gguf", types);

  loam::GgufWriter empty;
  emit("empty.gguf", empty);
  return seeds;
}

// --- llama2.c ------------------------------------------------------------------------------------

// A legacy checkpoint for this header (vocab_size < 0: an unshared classifier), patterned floats.
inline std::string llama2c_checkpoint(const int32_t (&header)[7]) {
  loam::Llama2cHeader h;
  std::string bytes(reinterpret_cast<const char*>(header), sizeof header);
  if (!loam::parse_llama2c_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                  h)) {
    return bytes;
  }
  const size_t floats = (loam::llama2c_expected_bytes(h) - loam::kLlama2cHeaderBytes) / 4;
  for (size_t i = 0; i < floats; ++i) {
    const float v = 0.01f * static_cast<float>(static_cast<int>(i % 200) - 100);
    bytes.append(reinterpret_cast<const char*>(&v), 4);
  }
  return bytes;
}

// A llama2.c tokenizer.bin: max_token_length, then { f32 score, i32 length, bytes } per token.
inline std::string llama2c_tokenizer(const std::vector<std::string>& pieces) {
  std::string bytes;
  auto put = [&bytes](const void* p) { bytes.append(static_cast<const char*>(p), 4); };
  int32_t max_len = 0;
  for (const std::string& p : pieces) max_len = std::max<int32_t>(max_len, p.size());
  put(&max_len);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const float score = -static_cast<float>(i);
    const int32_t len = static_cast<int32_t>(pieces[i].size());
    put(&score);
    put(&len);
    bytes += pieces[i];
  }
  return bytes;
}

inline std::vector<Seed> llama2c_seeds() {
  const int32_t shared[7] = {8, 16, 1, 2, 1, 6, 4};
  const int32_t unshared[7] = {8, 16, 2, 2, 2, -6, 4};
  return {
      {"tiny-shared.bin", llama2c_checkpoint(shared)},
      {"tiny-unshared.bin", llama2c_checkpoint(unshared)},
      {"tokenizer.bin", llama2c_tokenizer({"<unk>", "\n<s>\n", "\n</s>\n", "<0x41>", "<0x0A>", " ",
                                           "a", " a", "he", "llo", " hello", "\xC3\xA9"})},
  };
}

// --- text seeds ----------------------------------------------------------------------------------

// The seeds of a committed line file, each line turned into an input by `make`.
template <class Make>
std::vector<Seed> line_seeds(const std::string& path, const std::string& prefix, Make make) {
  std::vector<Seed> seeds;
  std::ifstream f(path);
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    seeds.push_back({prefix + std::to_string(n), make(line)});
  }
  return seeds;
}

// `target` is json, args or tokenizer; `source_dir` the repository.
inline std::vector<Seed> text_seeds(const std::string& source_dir, const std::string& target) {
  const std::string path = source_dir + "/tests/fuzz/corpus/" + target + "/seeds.txt";
  if (target == "args") {
    // One command line a line, arguments separated by single spaces, as NUL-separated argv.
    return line_seeds(path, "argv-", [](std::string line) {
      for (char& c : line) c = c == ' ' ? '\0' : c;
      return line;
    });
  }
  if (target == "tokenizer") {
    // Byte 0 chooses the options (fuzz_tokenizer): 'A' = BOS with the ../shared SentencePiece
    // vocabulary, 'C' = BOS with the built-in one; 'E' and 'G' the same with the byte-level
    // ones; 'L' = the ../shared byte-level one, parse_special, no BOS.
    std::vector<Seed> seeds;
    for (const auto& [prefix, lead] : {std::pair<const char*, const char*>{"shared-", "A"},
                                       {"own-", "C"}, {"shared-bpe-", "E"}, {"own-bpe-", "G"},
                                       {"shared-bpe-special-", "L"}}) {
      const std::string first = lead;
      auto with_lead = [&first](const std::string& l) { return first + l; };
      for (Seed& s : line_seeds(path, prefix, with_lead)) seeds.push_back(std::move(s));
    }
    return seeds;
  }
  return line_seeds(path, "line-", [](const std::string& l) { return l; });
}

}  // namespace loam_fuzz
