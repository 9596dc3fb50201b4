// load_model() on writer-made GGUF models and hand-made llama2.c checkpoints: what it accepts
// and, for each kind of unusable model, an error naming the key, tensor or header field at fault.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format_fixtures.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "quant/dequantize.h"

using loam::DType;
using loam::GgufFile;
using loam::GgufValue;
using loam::Status;
using loam_test::Bytes;
using loam_test::for_each_truncation;
using loam_test::load;
using loam_test::tmp;
using loam_test::write_tiny;

// ---- GGUF models -------------------------------------------------------------------------------

TEST_CASE("unsupported architecture and missing architecture") {
  loam_test::TinyLlamaSpec spec;
  spec.arch = "gpt2";
  CHECK_ERROR(load(write_tiny("arch.gguf", spec)), "arch.gguf", "unsupported architecture 'gpt2'");
  loam::GgufWriter w;
  w.set("general.name", GgufValue::make_string("x"));
  const std::string path = tmp("noarch.gguf");
  REQUIRE(w.write(path).is_ok());
  CHECK_ERROR(load(path), "noarch.gguf", "missing key 'general.architecture'");
  // A vocab-only file is a valid GGUF but not a model.
  loam::GgufWriter v;
  v.set("general.architecture", GgufValue::make_string("llama"));
  v.set("tokenizer.ggml.tokens", GgufValue::make_string_array({"a", "b"}));
  const std::string vpath = tmp("vocab-only.gguf");
  REQUIRE(v.write(vpath).is_ok());
  CHECK_ERROR(load(vpath), "vocab-only.gguf", "missing key 'llama.embedding_length'");
}

TEST_CASE("missing required tensor") {
  for (const char* name : {"token_embd.weight", "output_norm.weight", "blk.1.ffn_up.weight",
                           "blk.0.attn_norm.weight"}) {
    loam_test::TinyLlamaSpec spec;
    spec.omit_tensor = name;
    const std::string want = std::string("missing tensor '") + name + "'";
    CHECK_ERROR(load(write_tiny("missing.gguf", spec)), "missing.gguf", want.c_str());
  }
}

TEST_CASE("wrong tensor shape names tensor, actual and expected shape") {
  loam_test::TinyLlamaSpec spec;  // n_embd 32, head_dim 8, 2 kv heads -> attn_k [32, 16]
  spec.grow_tensor = "blk.0.attn_k.weight";
  CHECK_ERROR(load(write_tiny("shape.gguf", spec)), "shape.gguf", "'blk.0.attn_k.weight'",
              "[32, 17]", "expected [32, 16]");
  spec.grow_tensor = "output_norm.weight";
  CHECK_ERROR(load(write_tiny("shape.gguf", spec)), "'output_norm.weight'", "[32, 2]",
              "expected [32]");
  spec.grow_tensor = "token_embd.weight";
  CHECK_ERROR(load(write_tiny("shape.gguf", spec)), "'token_embd.weight'", "[32, 17]",
              "expected [32, 16]");
}

TEST_CASE("a weight type without a kernel is refused, naming tensor and type") {
  // Types this build has no matmul kernel for (IQ2_XS never gets one; Q4_K until it does).
  std::vector<DType> no_kernel;
  for (DType t : {DType::IQ2_XS, DType::Q4_K, DType::Q2_K, DType::Q5_1, DType::IQ4_XS}) {
    if (loam::kernels().weights[static_cast<uint32_t>(t)].gemv == nullptr) no_kernel.push_back(t);
  }
  REQUIRE(!no_kernel.empty());
  REQUIRE(loam::kernels().weights[static_cast<uint32_t>(DType::IQ2_XS)].gemv == nullptr);
  for (DType t : no_kernel) {
    loam_test::TinyLlamaSpec spec;  // rows of 256: a whole block of every K/IQ type
    spec.n_embd = 256;
    spec.n_layer = 1;
    spec.n_head = 2;
    spec.n_head_kv = 1;
    spec.n_ff = 256;
    spec.n_vocab = 4;
    spec.odd_tensor = "blk.0.attn_q.weight";
    spec.odd_type = t;
    const std::string want = std::string("tensor 'blk.0.attn_q.weight' has type ") +
                             loam::dtype_name(t) + ", which this build cannot compute with";
    CHECK_ERROR(load(write_tiny("nokernel.gguf", spec)), "nokernel.gguf", want.c_str());
    spec.odd_tensor = "output.weight";
    const std::string want_out = std::string("tensor 'output.weight' has type ") +
                                 loam::dtype_name(t);
    CHECK_ERROR(load(write_tiny("nokernel.gguf", spec)), want_out.c_str());
  }
  // A tied model multiplies by token_embd, so that tensor needs a kernel too.
  loam_test::TinyLlamaSpec tied;
  tied.n_embd = 256;
  tied.n_layer = 1;
  tied.n_head = 2;
  tied.n_head_kv = 1;
  tied.n_ff = 256;
  tied.n_vocab = 4;
  tied.tied = true;
  tied.odd_tensor = "token_embd.weight";
  tied.odd_type = DType::IQ2_XS;
  float probe[256];
  const bool iq2_converts = loam::dequantize_row(DType::IQ2_XS, std::vector<uint8_t>(74).data(),
                                                 probe, 256);
  CHECK_ERROR(load(write_tiny("tied-nokernel.gguf", tied)), "tensor 'token_embd.weight'",
              iq2_converts ? "cannot compute with" : "cannot convert to f32");
  // Norms must be float.
  loam_test::TinyLlamaSpec norm;
  norm.odd_tensor = "blk.0.ffn_norm.weight";
  norm.odd_type = DType::I32;
  CHECK_ERROR(load(write_tiny("norm-type.gguf", norm)), "'blk.0.ffn_norm.weight'", "type I32");
}

TEST_CASE("weights off their natural alignment are refused") {
  // general.alignment 1 is legal GGUF, but F32 weights must still sit on 4-byte boundaries for
  // the kernels. Grow general.name until the data section starts off such a boundary.
  loam_test::TinyLlamaSpec spec;
  spec.alignment = 1;
  std::string path;
  for (int i = 0; i < 4; ++i) {
    path = write_tiny("align1.gguf", spec);
    GgufFile f;
    REQUIRE(GgufFile::open(path, f).is_ok());
    REQUIRE(f.alignment() == 1);
    if (f.data_offset() % 4 != 0) break;
    spec.name += "x";
  }
  CHECK_ERROR(load(path), "align1.gguf", "tensor 'token_embd.weight' data is not 4-byte aligned");
  // With a 4-byte start the same file loads.
  for (int i = 0; i < 4; ++i) {
    path = write_tiny("align1.gguf", spec);
    GgufFile f;
    REQUIRE(GgufFile::open(path, f).is_ok());
    if (f.data_offset() % 4 == 0) break;
    spec.name += "x";
  }
  CHECK(load(path).is_ok());
}

TEST_CASE("implausible or inconsistent hyperparameters") {
  struct Case {
    const char* key;
    GgufValue value;
    const char* message;
  };
  const Case cases[] = {
      {"llama.block_count", GgufValue::make_u32(100000), "'llama.block_count' is 100000"},
      {"llama.embedding_length", GgufValue::make_u64(uint64_t{1} << 40),
       "'llama.embedding_length'"},
      {"llama.embedding_length", GgufValue::make_i32(-32), "'llama.embedding_length' is -32"},
      {"llama.attention.head_count", GgufValue::make_u32(5), "does not divide"},
      {"llama.attention.head_count", GgufValue::make_u32(0), "'llama.attention.head_count' is 0"},
      {"llama.attention.head_count_kv", GgufValue::make_u32(3), "kv head count 3"},
      {"llama.rope.dimension_count", GgufValue::make_u32(12), "rope dimension count 12"},
      {"llama.rope.freq_base", GgufValue::make_f32(-1.0f), "rope frequency base"},
      {"llama.attention.layer_norm_rms_epsilon", GgufValue::make_string("x"),
       "'llama.attention.layer_norm_rms_epsilon' has type string"},
      {"llama.vocab_size", GgufValue::make_u32(17),
       "key 'llama.vocab_size' is 17 but tokenizer.ggml.tokens has 16 tokens"},
      {"llama.vocab_size", GgufValue::make_u32(1u << 30), "'llama.vocab_size' is 1073741824"},
      {"llama.context_length", GgufValue::make_string("4096"), "'llama.context_length' has type string"},
      {"tokenizer.ggml.scores", GgufValue::make_f32_array({1, 2, 3}),
       "'tokenizer.ggml.scores' has 3 entries for 16 tokens"},
      {"tokenizer.ggml.token_type", GgufValue::make_i32_array(std::vector<int32_t>(16, 9)),
       "'tokenizer.ggml.token_type' entry 0 is 9"},
      {"tokenizer.ggml.bos_token_id", GgufValue::make_u32(99),
       "'tokenizer.ggml.bos_token_id' is 99, outside the vocabulary"},
      {"tokenizer.ggml.tokens", GgufValue::make_i32_array({1}),
       "'tokenizer.ggml.tokens' has type array of i32"},
  };
  for (const Case& c : cases) {
    loam_test::TinyLlamaSpec spec;
    spec.extra_keys.push_back({c.key, c.value});
    CHECK_ERROR(load(write_tiny("hparams.gguf", spec)), "hparams.gguf", c.message);
  }
  // The unmodified fixture loads (so each failure above comes from its one change).
  CHECK(load(write_tiny("hparams-ok.gguf", loam_test::TinyLlamaSpec{})).is_ok());
}

// ---- llama2.c checkpoints ---------------------------------------------------------------------

namespace {

// A llama2.c checkpoint: header fields, then `floats` zero weights.
std::string write_llama2c(const std::string& name, const std::vector<int32_t>& header,
                          size_t floats) {
  Bytes b;
  for (int32_t v : header) b.u32(static_cast<uint32_t>(v));
  b.pad(floats * 4);
  return b.write(name);
}

// Floats of the checkpoint dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 4, seq 4:
// embedding 32, norms 8+8, wq 64, wk 32, wv 32, wo 64, w1/w2/w3 3*128, final norm 8, freq 2*4*2.
constexpr size_t kTinyFloats = 32 + 8 + 64 + 32 + 32 + 64 + 8 + 384 + 8 + 16;
const std::vector<int32_t> kTinyHeader = {8, 16, 1, 2, 1, 4, 4};

}  // namespace

TEST_CASE("llama2.c: a valid tiny checkpoint loads") {
  loam::Model m;
  const Status st = loam::load_model(write_llama2c("tiny.bin", kTinyHeader, kTinyFloats),
                                     loam::LoadOptions{}, m);
  REQUIRE(st.is_ok());
  CHECK_EQ(m.config.n_embd, 8);
  CHECK_EQ(m.config.n_head_kv, 1);
  CHECK(m.config.tied_embeddings);
}

TEST_CASE("llama2.c: zero, negative, absurd and inconsistent header fields") {
  struct Case {
    std::vector<int32_t> header;
    const char* message;
  };
  const Case cases[] = {
      {{0, 16, 1, 2, 1, 4, 4}, "dim is 0"},
      {{8, -16, 1, 2, 1, 4, 4}, "hidden_dim is -16"},
      {{8, 16, -1, 2, 1, 4, 4}, "n_layers is -1"},
      {{8, 16, 1, 0, 1, 4, 4}, "n_heads is 0"},
      {{8, 16, 1, 2, 0, 4, 4}, "n_kv_heads is 0"},
      {{8, 16, 1, 2, 1, 0, 4}, "vocab_size is 0"},
      {{8, 16, 1, 2, 1, 1 << 30, 4}, "vocab_size is 1073741824, above the limit"},
      {{8, 16, 1, 2, 1, INT32_MIN, 4}, "vocab_size"},
      {{8, 16, 1, 2, 1, 4, 0}, "seq_len is 0"},
      {{8, 16, 100000, 2, 1, 4, 4}, "n_layers is 100000, above the limit"},
      {{1 << 30, 16, 1, 2, 1, 4, 4}, "dim is 1073741824"},
      {{8, 16, 1, 3, 1, 4, 4}, "n_heads 3 does not divide dim 8"},
      {{8, 16, 1, 2, 3, 4, 4}, "n_kv_heads 3 does not divide n_heads 2"},
      {{6, 16, 1, 2, 1, 4, 4}, "head size 3 is odd"},
  };
  for (const Case& c : cases) {
    const std::string path = write_llama2c("bad-header.bin", c.header, kTinyFloats);
    CHECK_ERROR(load(path), "bad-header.bin", "not a GGUF or llama2.c model file", c.message);
  }
  CHECK_ERROR(load(Bytes{}.raw("abc", 3).write("tiny-file.bin")), "tiny-file.bin",
              "not a GGUF or llama2.c model file");
}

TEST_CASE("llama2.c: truncated or oversized checkpoint") {
  const size_t expected = 28 + kTinyFloats * 4;
  const std::string cut = write_llama2c("cut.bin", kTinyHeader, kTinyFloats - 1);
  const std::string want = "truncated llama2.c checkpoint: expected " + std::to_string(expected) +
                           " bytes, file has " + std::to_string(expected - 4);
  CHECK_ERROR(load(cut), "cut.bin", want.c_str());
  const std::string big = write_llama2c("big.bin", kTinyHeader, kTinyFloats + 1);
  CHECK_ERROR(load(big), "big.bin", "expected");
  // An unshared classifier (negative vocab_size) needs wcls at the end.
  std::vector<int32_t> unshared = kTinyHeader;
  unshared[5] = -4;
  CHECK_ERROR(load(write_llama2c("nowcls.bin", unshared, kTinyFloats)), "truncated");
  CHECK(load(write_llama2c("wcls.bin", unshared, kTinyFloats + 32)).is_ok());
  // Every shorter length fails.
  const std::vector<uint8_t> full =
      loam_test::read_all(write_llama2c("full.bin", kTinyHeader, kTinyFloats));
  const std::string path = tmp("cut-each.bin");
  size_t failures = 0;
  for_each_truncation(path, full, [&](size_t) { failures += !load(path); });
  CHECK_EQ(failures, full.size());
}

TEST_CASE("llama2.c: negative vocab_size means an unshared classifier") {
  // dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab -4 (unshared), seq_len 4.
  const int32_t hdr[7] = {8, 16, 1, 2, 1, -4, 4};
  const int hs = 4, kv = 4;
  const size_t floats = 4 * 8 + 8 + 8 * 8 + 2 * kv * 8 + 8 * 8 + 8 + 3 * 16 * 8 + 8 + 4 * hs + 4 * 8;
  std::vector<uint8_t> bytes(28 + floats * 4);
  std::memcpy(bytes.data(), hdr, 28);
  // Mark the first float of wcls (the last 32 floats) so we can find it.
  const float mark = 42.0f;
  std::memcpy(bytes.data() + bytes.size() - 32 * 4, &mark, 4);
  const std::string path = loam_test::temp_dir() + "/unshared.bin";
  loam_test::write_all(path, bytes);
  loam::Model m;
  REQUIRE(loam::load_model(path, loam::LoadOptions{}, m).is_ok());
  CHECK(!m.config.tied_embeddings);
  CHECK_EQ(m.config.n_vocab, 4);
  CHECK_EQ(m.config.n_head_kv, 1);
  CHECK_EQ(m.output.name, std::string("output.weight"));
  CHECK(m.output.data != m.tok_embd.data);
  float first = 0;
  std::memcpy(&first, m.output.data, 4);
  CHECK_EQ(first, 42.0f);
}
