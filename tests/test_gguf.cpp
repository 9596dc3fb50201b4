// GGUF reader/writer, llama2.c reader and model loading. Expected facts about the shared
// fixtures were read from the files by an independent hand-written Python header dump (not by
// this code), or come from /work/shared/README.md.
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/mmap_file.h"
#include "formats/gguf_writer.h"
#include "format_fixtures.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "quant/dequantize.h"

using loam::DType;
using loam::GgufFile;
using loam::GgufType;
using loam::GgufValue;
using loam_test::contains;

namespace {

float f16_at(const void* data, size_t i) {
  uint16_t h;
  std::memcpy(&h, static_cast<const uint8_t*>(data) + 2 * i, 2);
  return loam::fp16_to_fp32(h);
}

float f32_at(const void* data, size_t i) {
  float f;
  std::memcpy(&f, static_cast<const uint8_t*>(data) + 4 * i, 4);
  return f;
}

std::string model_path(const char* name) { return loam_test::shared_file(std::string("models/") + name); }

}  // namespace

// ---- reader on shared files -------------------------------------------------------------------

TEST_CASE("shared: vocab of ggml-vocab-llama-spm.gguf") {
  const std::string path = loam_test::shared_file("vectors/ggml-vocab-llama-spm.gguf");
  loam::Vocab v;
  const loam::Status st = loam::load_gguf_vocab(path, v);
  REQUIRE(st.is_ok());
  CHECK_EQ(v.size(), 32000);
  CHECK_EQ(v.model, std::string("llama"));
  CHECK_EQ(v.pieces[0], std::string("<unk>"));
  CHECK_EQ(v.pieces[1], std::string("<s>"));
  CHECK_EQ(v.pieces[3], std::string("<0x00>"));
  CHECK_EQ(v.pieces[1000], std::string("ied"));
  CHECK_EQ(v.pieces[29871], std::string("\xe2\x96\x81"));  // U+2581
  CHECK_EQ(v.pieces[31999], std::string("\xe7\xbb\x99"));  // U+7ED9
  CHECK_EQ(v.scores.size(), size_t{32000});
  CHECK_EQ(v.scores[1000], -741.0f);
  CHECK_EQ(v.scores[31999], -31740.0f);
  CHECK(v.types[0] == loam::TokenType::Unknown);
  CHECK(v.types[1] == loam::TokenType::Control);
  CHECK(v.types[3] == loam::TokenType::Byte);
  CHECK(v.types[1000] == loam::TokenType::Normal);
  CHECK_EQ(v.bos_id, 1);
  CHECK_EQ(v.eos_id, 2);
  CHECK_EQ(v.unk_id, 0);
  CHECK(v.add_bos);
  CHECK(v.add_space_prefix);  // key absent: Vocab's default
}

TEST_CASE("shared: vocab-only GGUF has no tensors and no data padding") {
  GgufFile f;
  const loam::Status st = GgufFile::open(loam_test::shared_file("vectors/ggml-vocab-gpt-2.gguf"), f);
  REQUIRE(st.is_ok());
  CHECK_EQ(f.tensors().size(), size_t{0});
  CHECK_EQ(f.metadata().size(), size_t{16});
  std::string model;
  CHECK(f.get_string("tokenizer.ggml.model", model).is_ok());
  CHECK_EQ(model, std::string("gpt2"));
  std::vector<std::string> merges;
  CHECK(f.get_string_array("tokenizer.ggml.merges", merges).is_ok());
  CHECK_EQ(merges.size(), size_t{50000});
  CHECK_EQ(merges[1], std::string("\xc4\xa0 a"));  // "Ġ a"
  int64_t bos = 0;
  CHECK(f.get_int("tokenizer.ggml.bos_token_id", bos).is_ok());
  CHECK_EQ(bos, int64_t{50256});
}

TEST_CASE("shared: GGUF header facts of aidreams260K.gguf") {
  GgufFile f;
  REQUIRE(GgufFile::open(model_path("aidreams260K.gguf"), f).is_ok());
  CHECK_EQ(f.version(), 3u);
  CHECK_EQ(f.alignment(), 32u);
  CHECK_EQ(f.tensors().size(), size_t{39});
  CHECK_EQ(f.metadata().size(), size_t{19});
  CHECK_EQ(f.data_offset(), uint64_t{13664});
  CHECK_EQ(f.metadata()[0].key, std::string("tokenizer.ggml.tokens"));  // file order kept
  uint32_t emb = 0;
  CHECK(f.get_uint32("llama.embedding_length", emb).is_ok());
  CHECK_EQ(emb, 64u);
  const GgufValue* v = f.find("llama.embedding_length");
  REQUIRE(v != nullptr);
  CHECK(v->type == GgufType::U32);
  double eps = 0;
  CHECK(f.get_float("llama.attention.layer_norm_rms_epsilon", eps).is_ok());
  CHECK_NEAR(eps, 1e-5, 1e-9);
  int64_t sep = 0;
  CHECK(f.get_int("tokenizer.ggml.seperator_token_id", sep).is_ok());
  CHECK_EQ(sep, int64_t{4294967295});
  uint32_t sep32 = 0;
  CHECK(f.get_uint32("tokenizer.ggml.seperator_token_id", sep32).is_ok());
  CHECK_EQ(sep32, 4294967295u);

  const loam::GgufTensorInfo* t = f.find_tensor("blk.0.ffn_down.weight");
  REQUIRE(t != nullptr);
  CHECK_EQ(t->n_dims, 2);
  CHECK_EQ(t->ne[0], int64_t{172});
  CHECK_EQ(t->ne[1], int64_t{64});
  CHECK(t->type == DType::F32);
  CHECK_EQ(t->offset, uint64_t{372224});
  CHECK_EQ(t->nbytes, size_t{172 * 64 * 4});
  CHECK(t->data == f.mapping()->data() + 13664 + 372224);
  const loam::GgufTensorInfo* n = f.find_tensor("output_norm.weight");
  REQUIRE(n != nullptr);
  CHECK_EQ(n->n_dims, 1);
  CHECK_EQ(n->ne[0], int64_t{64});
  CHECK_NEAR(f32_at(n->data, 0), 1.3196977376937866, 1e-7);
  CHECK(f.find_tensor("no.such.tensor") == nullptr);
}

TEST_CASE("shared: GGUF header facts of llama-2-tiny-random.gguf") {
  GgufFile f;
  REQUIRE(GgufFile::open(model_path("llama-2-tiny-random.gguf"), f).is_ok());
  CHECK_EQ(f.tensors().size(), size_t{12});
  CHECK_EQ(f.data_offset(), uint64_t{724416});
  CHECK(!f.has("llama.vocab_size"));
  const loam::GgufTensorInfo& emb = f.tensors()[0];
  CHECK_EQ(emb.name, std::string("token_embd.weight"));
  CHECK(emb.type == DType::F16);
  CHECK_EQ(emb.ne[0], int64_t{8});
  CHECK_EQ(emb.ne[1], int64_t{32000});
  CHECK_EQ(f16_at(emb.data, 1000 * 8 + 0), -0.01934814453125f);
  CHECK_EQ(f16_at(emb.data, 1000 * 8 + 7), -0.01776123046875f);
  const loam::GgufTensorInfo* q = f.find_tensor("blk.0.attn_q.weight");
  REQUIRE(q != nullptr);
  CHECK_EQ(f16_at(q->data, 2), -0.0509033203125f);
  loam::Vocab v;
  REQUIRE(loam::load_vocab_from_gguf(f, v).is_ok());
  CHECK_EQ(v.size(), 32000);
  CHECK_EQ(v.pieces[1000], std::string("ied"));
}

TEST_CASE("shared: tensor types of the synth quantized files") {
  struct Expect {
    const char* file;
    DType main;            // type of most matrices
    int n_main;
    int n_q6k;             // Q6_K matrices mixed in
    DType embd;
  };
  const Expect cases[] = {
      {"synth/synth-tiny-f32.gguf", DType::F32, 39, 0, DType::F32},
      {"synth/synth-tiny-F16.gguf", DType::F16, 30, 0, DType::F16},
      {"synth/synth-tiny-BF16.gguf", DType::BF16, 30, 0, DType::BF16},
      {"synth/synth-tiny-Q8_0.gguf", DType::Q8_0, 30, 0, DType::Q8_0},
      {"synth/synth-tiny-Q4_0.gguf", DType::Q4_0, 29, 1, DType::Q4_0},
      {"synth/synth-tiny-Q4_K_M.gguf", DType::Q4_K, 25, 5, DType::Q4_K},
      {"synth/synth-tiny-Q5_K_M.gguf", DType::Q5_K, 25, 5, DType::Q5_K},
      {"synth/synth-tiny-Q6_K.gguf", DType::Q6_K, 30, 30, DType::Q6_K},
  };
  for (const Expect& e : cases) {
    GgufFile f;
    const loam::Status st = GgufFile::open(model_path(e.file), f);
    CHECK(st.is_ok());
    if (!st) continue;
    CHECK_EQ(f.tensors().size(), size_t{39});
    int n_main = 0, n_q6k = 0, n_f32 = 0;
    for (const loam::GgufTensorInfo& t : f.tensors()) {
      n_main += t.type == e.main;
      n_q6k += t.type == DType::Q6_K;
      n_f32 += t.type == DType::F32;
    }
    CHECK_EQ(n_main, e.n_main);
    CHECK_EQ(n_q6k, e.n_q6k);
    if (e.main != DType::F32) CHECK_EQ(n_f32, 9);  // the norms stay F32
    CHECK(f.find_tensor("token_embd.weight")->type == e.embd);
    CHECK_EQ(f.find_tensor("blk.0.ffn_down.weight")->ne[0], int64_t{768});
  }
  GgufFile q4km;
  REQUIRE(GgufFile::open(model_path("synth/synth-tiny-Q4_K_M.gguf"), q4km).is_ok());
  CHECK(q4km.find_tensor("output.weight")->type == DType::Q6_K);
  CHECK(q4km.find_tensor("blk.2.attn_v.weight")->type == DType::Q6_K);
  CHECK(q4km.find_tensor("blk.3.ffn_down.weight")->type == DType::Q6_K);
  CHECK(q4km.find_tensor("blk.0.ffn_down.weight")->type == DType::Q4_K);
  CHECK_EQ(q4km.find_tensor("blk.0.attn_k.weight")->offset, uint64_t{182272});
  CHECK_EQ(q4km.data_offset(), uint64_t{13824});
}

// ---- writer round trip ------------------------------------------------------------------------

TEST_CASE("writer: every value type round-trips") {
  const std::string path = loam_test::temp_dir() + "/roundtrip.gguf";
  loam::GgufWriter w;
  w.set("u8", GgufValue::make_u8(250));
  w.set("i8", GgufValue::make_i8(-120));
  w.set("u16", GgufValue::make_u16(65000));
  w.set("i16", GgufValue::make_i16(-32000));
  w.set("u32", GgufValue::make_u32(4000000000u));
  w.set("i32", GgufValue::make_i32(-2000000000));
  w.set("f32", GgufValue::make_f32(3.25f));
  w.set("bool", GgufValue::make_bool(true));
  w.set("string", GgufValue::make_string("h\xc3\xa9llo \xe2\x96\x81 world"));
  w.set("empty_string", GgufValue::make_string(""));
  w.set("u64", GgufValue::make_u64(std::numeric_limits<uint64_t>::max()));
  w.set("i64", GgufValue::make_i64(std::numeric_limits<int64_t>::min()));
  w.set("f64", GgufValue::make_f64(0.1));
  w.set("strings", GgufValue::make_string_array({"a", "", "\xe2\x96\x81" "b", "<0x0A>"}));
  w.set("floats", GgufValue::make_f32_array({1.5f, -2.0f, 1e-30f}));
  w.set("ints", GgufValue::make_i32_array({-1, 0, 7}));
  w.set("empty_array", GgufValue::make_i32_array({}));
  const uint8_t u16_bytes[] = {0x01, 0x02, 0xff, 0xff};
  w.set("u16s", GgufValue::make_raw_array(GgufType::U16, {u16_bytes, u16_bytes + 4}));
  const uint8_t bools[] = {1, 0, 1};
  w.set("bools", GgufValue::make_raw_array(GgufType::Bool, {bools, bools + 3}));
  w.set("nested", GgufValue::make_nested_array(
                      {GgufValue::make_i32_array({1, 2}), GgufValue::make_string_array({"x"}),
                       GgufValue::make_nested_array({GgufValue::make_f32_array({0.5f})})}));
  w.set("replaced", GgufValue::make_u8(1));
  w.set("replaced", GgufValue::make_string("second"));  // replaces in place
  REQUIRE(w.write(path).is_ok());

  GgufFile f;
  const loam::Status st = GgufFile::open(path, f);
  if (!st) std::fprintf(stderr, "  %s\n", st.message().c_str());
  REQUIRE(st.is_ok());
  CHECK_EQ(f.version(), 3u);
  CHECK_EQ(f.metadata().size(), size_t{21});
  CHECK_EQ(f.metadata()[20].key, std::string("replaced"));
  CHECK(f.find("u8")->type == GgufType::U8);
  CHECK_EQ(f.find("u8")->u64, uint64_t{250});
  CHECK(f.find("i8")->type == GgufType::I8);
  CHECK_EQ(f.find("i8")->i64, int64_t{-120});
  CHECK_EQ(f.find("u16")->u64, uint64_t{65000});
  CHECK_EQ(f.find("i16")->i64, int64_t{-32000});
  CHECK(f.find("u32")->type == GgufType::U32);
  CHECK_EQ(f.find("u32")->u64, uint64_t{4000000000u});
  CHECK_EQ(f.find("i32")->i64, int64_t{-2000000000});
  CHECK(f.find("f32")->type == GgufType::F32);
  CHECK_EQ(f.find("f32")->f64, 3.25);
  CHECK_EQ(f.find("u64")->u64, std::numeric_limits<uint64_t>::max());
  CHECK_EQ(f.find("i64")->i64, std::numeric_limits<int64_t>::min());
  CHECK(f.find("f64")->type == GgufType::F64);
  CHECK_EQ(f.find("f64")->f64, 0.1);  // exact: stored as f64
  bool b = false;
  CHECK(f.get_bool("bool", b).is_ok());
  CHECK(b);
  std::string s;
  CHECK(f.get_string("string", s).is_ok());
  CHECK_EQ(s, std::string("h\xc3\xa9llo \xe2\x96\x81 world"));
  CHECK(f.get_string("empty_string", s).is_ok());
  CHECK_EQ(s, std::string(""));
  CHECK(f.get_string("replaced", s).is_ok());
  CHECK_EQ(s, std::string("second"));

  std::vector<std::string> strs;
  CHECK(f.get_string_array("strings", strs).is_ok());
  CHECK(strs == std::vector<std::string>({"a", "", "\xe2\x96\x81" "b", "<0x0A>"}));
  std::vector<float> floats;
  CHECK(f.get_float_array("floats", floats).is_ok());
  CHECK(floats == std::vector<float>({1.5f, -2.0f, 1e-30f}));
  std::vector<int64_t> ints;
  CHECK(f.get_int_array("ints", ints).is_ok());
  CHECK(ints == std::vector<int64_t>({-1, 0, 7}));
  CHECK(f.get_int_array("empty_array", ints).is_ok());
  CHECK(ints.empty());
  CHECK(f.get_int_array("u16s", ints).is_ok());
  CHECK(ints == std::vector<int64_t>({0x0201, 0xffff}));
  CHECK(f.get_int_array("bools", ints).is_ok());
  CHECK(ints == std::vector<int64_t>({1, 0, 1}));

  const GgufValue* nested = f.find("nested");
  REQUIRE(nested != nullptr);
  REQUIRE(nested->elem_type == GgufType::Array);
  REQUIRE(nested->count == 3 && nested->items.size() == 3);
  int64_t x = 0;
  CHECK(nested->items[0].elem_type == GgufType::I32);
  CHECK(nested->items[0].int_at(1, x));
  CHECK_EQ(x, int64_t{2});
  CHECK(nested->items[1].strings == std::vector<std::string>({"x"}));
  REQUIRE(nested->items[2].items.size() == 1);
  double dv = 0;
  CHECK(nested->items[2].items[0].double_at(0, dv));
  CHECK_EQ(dv, 0.5);
  CHECK_EQ(nested->render(), std::string("[[1, 2], [\"x\"], [[0.5]]]"));
}

TEST_CASE("writer: typed getters refuse the wrong type, naming file and key") {
  const std::string path = loam_test::temp_dir() + "/getters.gguf";
  loam::GgufWriter w;
  w.set("a.string", GgufValue::make_string("x"));
  w.set("a.float", GgufValue::make_f32(1.5f));
  w.set("a.neg", GgufValue::make_i32(-3));
  w.set("a.big", GgufValue::make_u64(uint64_t{1} << 40));
  w.set("a.ints", GgufValue::make_i32_array({1}));
  REQUIRE(w.write(path).is_ok());
  GgufFile f;
  REQUIRE(GgufFile::open(path, f).is_ok());
  int64_t i = 0;
  loam::Status st = f.get_int("a.string", i);
  CHECK(!st);
  CHECK(contains(st.message(), path));
  CHECK(contains(st.message(), "'a.string' has type string"));
  st = f.get_int("a.float", i);
  CHECK(!st);
  std::string str;
  st = f.get_string("a.float", str);
  CHECK(contains(st.message(), "'a.float' has type f32"));
  uint32_t u = 0;
  CHECK(!f.get_uint32("a.neg", u));
  CHECK(contains(f.get_uint32("a.big", u).message(), "out of range"));
  CHECK(f.get_int("a.big", i).is_ok());
  CHECK_EQ(i, int64_t{1} << 40);
  double d = 0;
  CHECK(f.get_float("a.neg", d).is_ok());  // integers are numbers too
  CHECK_EQ(d, -3.0);
  std::vector<std::string> strs;
  CHECK(contains(f.get_string_array("a.ints", strs).message(), "array of i32"));
  bool b = false;
  CHECK(contains(f.get_bool("missing.key", b).message(), "missing key 'missing.key'"));
  bool found = true;
  CHECK(f.get_bool_opt("missing.key", b, &found).is_ok());
  CHECK(!found);
  CHECK(!f.get_bool_opt("a.string", b));
}

TEST_CASE("writer: tensors with alignment padding round-trip") {
  const std::string path = loam_test::temp_dir() + "/tensors.gguf";
  loam::GgufWriter w;
  REQUIRE(w.set_alignment(64).is_ok());
  CHECK(!w.set_alignment(48));
  w.set("general.architecture", GgufValue::make_string("test"));
  const float a[3] = {1.0f, 2.0f, 3.0f};  // odd size: forces padding after it
  const std::vector<uint8_t> q8(34 * 2 * 3, 0x5a);  // Q8_0 [64 x 3]: 2 blocks per row
  const uint16_t h[4] = {0x3c00, 0x4000, 0xc000, 0x0001};
  REQUIRE(w.add_tensor("a", DType::F32, {3}, a, sizeof a).is_ok());
  REQUIRE(w.add_tensor("q", DType::Q8_0, {64, 3}, q8.data(), q8.size()).is_ok());
  REQUIRE(w.add_tensor_view("h", DType::F16, {2, 1, 2}, h, sizeof h).is_ok());
  // The writer refuses inconsistent tensors.
  CHECK(!w.add_tensor("a", DType::F32, {3}, a, sizeof a));          // duplicate
  CHECK(!w.add_tensor("bad", DType::Q8_0, {33}, q8.data(), 34));    // not whole blocks
  CHECK(!w.add_tensor("bad", DType::F32, {4}, a, sizeof a));        // wrong byte count
  CHECK(!w.add_tensor("bad", DType::F32, {1, 1, 1, 1, 1}, a, 4));   // 5 dims
  REQUIRE(w.write(path).is_ok());

  GgufFile f;
  REQUIRE(GgufFile::open(path, f).is_ok());
  CHECK_EQ(f.alignment(), 64u);
  uint32_t align = 0;
  CHECK(f.get_uint32("general.alignment", align).is_ok());
  CHECK_EQ(align, 64u);
  REQUIRE(f.tensors().size() == 3);
  CHECK_EQ(f.data_offset() % 64, uint64_t{0});
  const uint8_t* base = f.mapping()->data();
  for (const loam::GgufTensorInfo& t : f.tensors()) {
    CHECK_EQ(t.offset % 64, uint64_t{0});
    CHECK_EQ(static_cast<uint64_t>(t.data - base) % 64, uint64_t{0});
  }
  const loam::GgufTensorInfo& ta = f.tensors()[0];
  CHECK_EQ(ta.name, std::string("a"));
  CHECK_EQ(ta.nbytes, sizeof a);
  CHECK_EQ(std::memcmp(ta.data, a, sizeof a), 0);
  const loam::GgufTensorInfo& tq = f.tensors()[1];
  CHECK(tq.type == DType::Q8_0);
  CHECK_EQ(tq.offset, uint64_t{64});  // 12 bytes of "a" padded to 64
  CHECK_EQ(tq.ne[0], int64_t{64});
  CHECK_EQ(tq.ne[1], int64_t{3});
  CHECK_EQ(std::memcmp(tq.data, q8.data(), q8.size()), 0);
  const loam::GgufTensorInfo& th = f.tensors()[2];
  CHECK_EQ(th.n_dims, 3);
  CHECK_EQ(th.ne[2], int64_t{2});
  CHECK_EQ(th.offset, uint64_t{64 + 256});  // 204 bytes of "q" padded to 256
  CHECK_EQ(std::memcmp(th.data, h, sizeof h), 0);
  // The file ends right after the last tensor.
  CHECK_EQ(f.mapping()->size(), static_cast<size_t>(f.data_offset() + th.offset + sizeof h));
}

TEST_CASE("value rendering summarizes long arrays") {
  std::vector<std::string> many(100, "x");
  CHECK_EQ(GgufValue::make_string_array(many).render(), std::string("[string x 100]"));
  CHECK_EQ(GgufValue::make_i32_array({1, -2}).render(), std::string("[1, -2]"));
  CHECK_EQ(GgufValue::make_string("a\nb").render(), std::string("\"a\\nb\""));
  CHECK_EQ(GgufValue::make_f32(1e-5f).render(), std::string("1e-05"));
  CHECK_EQ(GgufValue::make_bool(false).render(), std::string("false"));
  CHECK_EQ(GgufValue::make_u64(18446744073709551615ull).render(),
           std::string("18446744073709551615"));
}

// ---- load_model -------------------------------------------------------------------------------

namespace {

struct ExpectConfig {
  int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
};

// Config facts from /work/shared/README.md (and the files' own keys for n_ctx).
void check_config(const loam::Model& m, const ExpectConfig& e) {
  const loam::ModelConfig& c = m.config;
  CHECK_EQ(c.n_embd, e.n_embd);
  CHECK_EQ(c.n_layer, e.n_layer);
  CHECK_EQ(c.n_head, e.n_head);
  CHECK_EQ(c.n_head_kv, e.n_head_kv);
  CHECK_EQ(c.n_ff, e.n_ff);
  CHECK_EQ(c.n_vocab, e.n_vocab);
  CHECK_EQ(c.n_ctx_train, e.n_ctx);
  CHECK_EQ(c.head_dim, e.n_embd / e.n_head);
  CHECK_EQ(m.layers.size(), static_cast<size_t>(e.n_layer));
  CHECK_EQ(m.tok_embd.rows(), int64_t{e.n_vocab});
  CHECK_EQ(m.tok_embd.cols(), int64_t{e.n_embd});
  for (const loam::LayerWeights& w : m.layers) {
    CHECK(w.attn_norm.type == DType::F32 && w.ffn_norm.type == DType::F32);
    CHECK_EQ(w.wk.rows(), int64_t{e.n_head_kv} * (e.n_embd / e.n_head));
    CHECK_EQ(w.ffn_down.cols(), int64_t{e.n_ff});
  }
}

loam::Status load(const std::string& path, loam::Model& m, const std::string& tokenizer = "") {
  loam::LoadOptions opt;
  opt.tokenizer_path = tokenizer;
  const loam::Status st = loam::load_model(path, opt, m);
  if (!st) std::fprintf(stderr, "  load_model: %s\n", st.message().c_str());
  return st;
}

}  // namespace

TEST_CASE("shared: load_model aidreams260K.gguf") {
  loam::Model m;
  REQUIRE(load(model_path("aidreams260K.gguf"), m).is_ok());
  check_config(m, {64, 4, 4, 4, 172, 512, 128});
  CHECK_EQ(m.format, std::string("gguf"));
  CHECK_EQ(m.format_version, 3u);
  CHECK_EQ(m.config.n_rot, 16);
  CHECK_NEAR(m.config.rms_eps, 1e-5, 1e-9);
  CHECK_EQ(m.config.rope_freq_base, 10000.0f);  // key absent: default
  // The converter stored output.weight as a copy of token_embd, so the GGUF is not tied.
  CHECK(!m.config.tied_embeddings);
  CHECK_EQ(m.tensors.size(), size_t{39});
  CHECK_EQ(m.vocab.size(), 512);
  CHECK_EQ(m.metadata.size(), size_t{19});
  std::map<std::string, std::string> md;
  for (const loam::MetadataEntry& e : m.metadata) md[e.key] = e.value;
  CHECK_EQ(md["llama.embedding_length"], std::string("64"));
  CHECK_EQ(md["general.architecture"], std::string("\"llama\""));
  CHECK_EQ(md["tokenizer.ggml.tokens"], std::string("[string x 512]"));
  CHECK_EQ(md["tokenizer.ggml.scores"], std::string("[f32 x 512]"));
}

TEST_CASE("shared: load_model llama-2-tiny-random.gguf") {
  loam::Model m;
  REQUIRE(load(model_path("llama-2-tiny-random.gguf"), m).is_ok());
  check_config(m, {8, 1, 2, 2, 32, 32000, 4096});
  CHECK_EQ(m.config.n_rot, 4);
  CHECK(!m.config.tied_embeddings);
  CHECK(m.tok_embd.type == DType::F16);
  CHECK(m.layers[0].wq.type == DType::F16);
  CHECK_EQ(m.vocab.size(), 32000);
  CHECK_EQ(f32_at(m.layers[0].attn_norm.data, 0), 1.0f);
}

TEST_CASE("shared: load_model synth-tiny in every type") {
  const char* files[] = {"f32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"};
  for (const char* name : files) {
    loam::Model m;
    const std::string file = std::string("synth/synth-tiny-") + name + ".gguf";
    const loam::Status st = load(model_path(file.c_str()), m);
    CHECK(st.is_ok());
    if (!st) continue;
    check_config(m, {256, 4, 8, 4, 768, 512, 512});
    CHECK_EQ(m.config.n_rot, 32);
    CHECK(!m.config.tied_embeddings);
    CHECK_EQ(m.vocab.size(), 512);
  }
}

TEST_CASE("shared: load_model llama2.c checkpoints") {
  loam::Model a;
  REQUIRE(load(model_path("aidreams260K.bin"), a).is_ok());
  check_config(a, {64, 4, 4, 4, 172, 512, 128});
  CHECK_EQ(a.format, std::string("llama2c"));
  CHECK_EQ(a.format_version, 0u);
  CHECK(a.config.tied_embeddings);  // shared classifier
  CHECK(a.output.data == a.tok_embd.data);
  CHECK_EQ(a.config.n_rot, 16);
  CHECK(a.vocab.empty());  // no tokenizer given
  CHECK_EQ(a.tensors.size(), size_t{4 * 9 + 2});
  CHECK_EQ(a.tensors[0].name, std::string("token_embd.weight"));
  // The first weight starts right after the 28-byte header.
  CHECK(static_cast<const uint8_t*>(a.tok_embd.data) == a.mapping->data() + 28);

  loam::Model s;
  REQUIRE(load(model_path("stories260K.bin"), s).is_ok());
  check_config(s, {64, 5, 8, 4, 172, 512, 512});
  CHECK(s.config.tied_embeddings);
  CHECK_EQ(s.config.kv_dim(), 32);
}

TEST_CASE("shared: llama2.c checkpoint with its tokenizer") {
  loam::Model m;
  REQUIRE(load(model_path("aidreams260K.bin"), m, model_path("tok512.bin")).is_ok());
  CHECK_EQ(m.vocab.size(), 512);
}

TEST_CASE("shared: aidreams260K.bin weights equal aidreams260K.gguf weights") {
  // Both hold the same fp32 weights; the converter permuted nothing (not even attn_q/attn_k,
  // since llama2.c and GGUF share the interleaved RoPE layout) and wrote the shared classifier
  // out as an explicit output.weight.
  loam::Model bin, gguf;
  REQUIRE(load(model_path("aidreams260K.bin"), bin).is_ok());
  REQUIRE(load(model_path("aidreams260K.gguf"), gguf).is_ok());
  auto same = [](const loam::Tensor& x, const loam::Tensor& y) {
    return x.type == y.type && x.nbytes == y.nbytes &&
           std::memcmp(x.ne, y.ne, sizeof x.ne) == 0 &&
           std::memcmp(x.data, y.data, x.nbytes) == 0;
  };
  CHECK(same(bin.tok_embd, gguf.tok_embd));
  CHECK(same(bin.output_norm, gguf.output_norm));
  CHECK(same(bin.output, gguf.output));  // bin: the embedding table; gguf: its copy
  int compared = 0;
  for (size_t l = 0; l < bin.layers.size(); ++l) {
    const loam::LayerWeights& x = bin.layers[l];
    const loam::LayerWeights& y = gguf.layers[l];
    CHECK(same(x.attn_norm, y.attn_norm));
    CHECK(same(x.wq, y.wq));
    CHECK(same(x.wk, y.wk));
    CHECK(same(x.wv, y.wv));
    CHECK(same(x.wo, y.wo));
    CHECK(same(x.ffn_norm, y.ffn_norm));
    CHECK(same(x.ffn_gate, y.ffn_gate));
    CHECK(same(x.ffn_up, y.ffn_up));
    CHECK(same(x.ffn_down, y.ffn_down));
    compared += 9;
  }
  CHECK_EQ(compared, 36);
  // And by name over the whole table: every llama2.c tensor has a GGUF twin with equal bytes.
  std::map<std::string, const loam::Tensor*> by_name;
  for (const loam::Tensor& t : gguf.tensors) by_name[t.name] = &t;
  for (const loam::Tensor& t : bin.tensors) {
    const auto it = by_name.find(t.name);
    CHECK(it != by_name.end());
    if (it != by_name.end()) CHECK(same(t, *it->second));
  }
}

// ---- load_model on writer-made models ---------------------------------------------------------

TEST_CASE("tiny model: config, defaults and tied embeddings") {
  const std::string path = loam_test::temp_dir() + "/tiny-tied.gguf";
  loam_test::TinyLlamaSpec spec;
  spec.tied = true;
  REQUIRE(loam_test::write_tiny_llama(path, spec).is_ok());
  loam::Model m;
  REQUIRE(load(path, m).is_ok());
  check_config(m, {32, 2, 4, 2, 48, 16, 64});
  CHECK(m.config.tied_embeddings);
  CHECK(m.output.data == m.tok_embd.data);
  CHECK_EQ(m.config.n_rot, 8);  // rope.dimension_count absent: head_dim
  CHECK_EQ(m.config.rope_freq_base, 500000.0f);
  CHECK_EQ(m.config.rms_eps, 1e-6f);
  CHECK_EQ(m.vocab.pieces[5], std::string("t5"));
  CHECK_EQ(m.vocab.scores[5], -5.0f);
  CHECK(m.vocab.types[2] == loam::TokenType::Control);
  // Weights alias the mapping: token_embd holds tiny_weight(1, i).
  // (NEAR: the compiler may contract the fixture's float math differently at each call site.)
  CHECK_NEAR(f32_at(m.tok_embd.data, 7), loam_test::tiny_weight(1, 7), 1e-6);
  const uint8_t* p = static_cast<const uint8_t*>(m.tok_embd.data);
  CHECK(p > m.mapping->data() && p + m.tok_embd.nbytes <= m.mapping->data() + m.mapping->size());
}

TEST_CASE("tiny model: F16 and BF16 norms are converted to F32") {
  for (DType norm : {DType::F16, DType::BF16}) {
    const std::string path = loam_test::temp_dir() + "/tiny-norm.gguf";
    loam_test::TinyLlamaSpec spec;
    spec.norm_type = norm;
    REQUIRE(loam_test::write_tiny_llama(path, spec).is_ok());
    loam::Model m;
    REQUIRE(load(path, m).is_ok());
    CHECK(m.output_norm.type == DType::F32);
    CHECK_EQ(m.output_norm.nbytes, size_t{32 * 4});
    CHECK(!m.owned_buffers.empty());
    // Expected: the file's 16-bit values (blk.0.attn_norm, still viewed in the mapping by the
    // tensor table) widened exactly.
    const loam::Tensor& file_norm = m.tensors[1];
    REQUIRE(file_norm.name == "blk.0.attn_norm.weight");
    for (int i = 0; i < 32; ++i) {
      uint16_t h;
      std::memcpy(&h, static_cast<const uint8_t*>(file_norm.data) + 2 * i, 2);
      const float want = norm == DType::F16 ? loam::fp16_to_fp32(h) : loam::bf16_to_fp32(h);
      CHECK_EQ(f32_at(m.layers[0].attn_norm.data, static_cast<size_t>(i)), want);
      CHECK_NEAR(want, 1.0 + loam_test::tiny_weight(2, i), 0.01);
    }
    // The tensor table still describes the file as it is.
    CHECK(m.tensors[1].type == norm);
  }
}
