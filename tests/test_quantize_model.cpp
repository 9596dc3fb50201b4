// Whole-model quantization (quant/quantize_model.h, `loam quantize`). The references are the files
// llama.cpp's llama-quantize made from synth-tiny-f32.gguf (../shared/models/synth): our output
// must give every tensor the same type, have at most 1.02x their quantization error (in fact the
// same bytes), keep the metadata they kept, and give the same logits. Also: llama2.c input
// against the third-party aidreams260K.gguf conversion, and refusals. The type rules on
// hand-made tensor lists are in test_quant_mix.cpp, the command line in test_quantize_cli.cpp.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "formats/gguf_writer.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "quant/dequantize.h"
#include "quant/quant_mix.h"
#include "quant/quantize_model.h"
#include "reference/golden_files.h"

using namespace loam;

namespace {

const char* const kTypes[] = {"Q8_0", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "F16", "BF16"};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void copy_file(const std::string& from, const std::string& to) {
  std::ofstream(to, std::ios::binary) << slurp(from);
}

std::string synth(const std::string& variant) {
  return loam_test::shared_file("models/synth/synth-tiny-" + variant + ".gguf");
}

Status quantize(const std::string& in, const std::string& out, const std::string& type,
                int threads = 2, const std::string& tokenizer = "",
                QuantizeResult* result = nullptr) {
  QuantizeOptions o;
  if (!parse_file_type(type, o.file_type)) return Status::error("bad type in test: " + type);
  o.n_threads = threads;
  o.tokenizer_path = tokenizer;
  return quantize_model(in, out, o, result);
}

// synth-tiny-f32 quantized to `type` once per test process.
std::string quantized_synth(const std::string& type) {
  static std::map<std::string, std::string> done;
  auto it = done.find(type);
  if (it != done.end()) return it->second;
  const std::string out = loam_test::temp_dir() + "/synth-" + type + ".gguf";
  const Status st = quantize(synth("f32"), out, type);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, "quantize " + type + ": " + st.message());
  REQUIRE(st);
  done[type] = out;
  return out;
}

GgufFile open_gguf(const std::string& path) {
  GgufFile f;
  const Status st = GgufFile::open(path, f);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, st.message());
  REQUIRE(st);
  return f;
}

std::vector<float> to_f32(const GgufTensorInfo& t) {
  const int64_t cols = t.ne[0], rows = t.elements() / cols;
  const size_t rb = dtype_row_bytes(t.type, cols);
  std::vector<float> out(static_cast<size_t>(t.elements()));
  for (int64_t r = 0; r < rows; ++r) {
    REQUIRE(dequantize_row(t.type, t.data + r * rb, &out[static_cast<size_t>(r * cols)], cols));
  }
  return out;
}

bool same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type) return false;
  if (a.type == GgufType::String) return a.str == b.str;
  if (a.type == GgufType::Array) {
    if (a.elem_type != b.elem_type || a.count != b.count || a.raw != b.raw ||
        a.strings != b.strings || a.items.size() != b.items.size()) {
      return false;
    }
    for (size_t i = 0; i < a.items.size(); ++i) {
      if (!same_value(a.items[i], b.items[i])) return false;
    }
    return true;
  }
  return a.i64 == b.i64 && a.u64 == b.u64 && a.f64 == b.f64;
}

// ---- against llama-quantize's files -------------------------------------------------------

TEST_CASE("shared: every tensor gets the type llama-quantize gave it, for every TYPE") {
  for (const char* type : kTypes) {
    const GgufFile ours = open_gguf(quantized_synth(type));
    const GgufFile ref = open_gguf(synth(type));
    CHECK_EQ(ours.tensors().size(), ref.tensors().size());
    for (const GgufTensorInfo& r : ref.tensors()) {
      const GgufTensorInfo* o = ours.find_tensor(r.name);
      REQUIRE(o != nullptr);
      if (o->type != r.type) {
        loam_test::record_failure(__FILE__, __LINE__, std::string(type) + " " + r.name + ": " +
                                  dtype_name(o->type) + " vs llama-quantize's " +
                                  dtype_name(r.type));
      }
      CHECK_EQ(o->n_dims, r.n_dims);
      for (int d = 0; d < 4; ++d) CHECK_EQ(o->ne[d], r.ne[d]);
      CHECK_EQ(o->nbytes, r.nbytes);
    }
  }
}

TEST_CASE("shared: quantization error is at most 1.02x llama-quantize's, for every TYPE") {
  const GgufFile f32 = open_gguf(synth("f32"));
  for (const char* type : kTypes) {
    const GgufFile ours = open_gguf(quantized_synth(type));
    const GgufFile ref = open_gguf(synth(type));
    double sq_ours = 0, sq_ref = 0;
    size_t n = 0;
    for (const GgufTensorInfo& t : f32.tensors()) {
      const float* x = reinterpret_cast<const float*>(t.data);
      const std::vector<float> a = to_f32(*ours.find_tensor(t.name));
      const std::vector<float> b = to_f32(*ref.find_tensor(t.name));
      for (size_t i = 0; i < a.size(); ++i) {
        sq_ours += (static_cast<double>(a[i]) - x[i]) * (static_cast<double>(a[i]) - x[i]);
        sq_ref += (static_cast<double>(b[i]) - x[i]) * (static_cast<double>(b[i]) - x[i]);
      }
      n += a.size();
    }
    const double rms_ours = std::sqrt(sq_ours / n), rms_ref = std::sqrt(sq_ref / n);
    const double ratio = rms_ref > 0 ? rms_ours / rms_ref : (rms_ours == 0 ? 1.0 : INFINITY);
    std::fprintf(stderr, "  %-6s error RMS ours %.6g, llama-quantize %.6g, ratio %.4f\n", type,
                 rms_ours, rms_ref, ratio);
    CHECK(ratio <= 1.02);
  }
}

TEST_CASE("shared: every tensor's bytes equal llama-quantize's, for every TYPE") {
  for (const char* type : kTypes) {
    const GgufFile ours = open_gguf(quantized_synth(type));
    const GgufFile ref = open_gguf(synth(type));
    for (const GgufTensorInfo& r : ref.tensors()) {
      const GgufTensorInfo* o = ours.find_tensor(r.name);
      REQUIRE(o != nullptr && o->nbytes == r.nbytes);
      if (std::memcmp(o->data, r.data, r.nbytes) != 0) {
        loam_test::record_failure(__FILE__, __LINE__,
                                  std::string(type) + " " + r.name + ": bytes differ");
      }
    }
  }
}

TEST_CASE("shared: F16/BF16 output is our fp16/bf16 rounding of each f32 weight") {
  const GgufFile f32 = open_gguf(synth("f32"));
  for (const char* type : {"F16", "BF16"}) {
    const bool half = std::string(type) == "F16";
    const GgufFile ours = open_gguf(quantized_synth(type));
    for (const GgufTensorInfo& t : f32.tensors()) {
      const GgufTensorInfo& o = *ours.find_tensor(t.name);
      if (t.n_dims < 2) {
        CHECK(o.type == DType::F32 && std::memcmp(o.data, t.data, t.nbytes) == 0);
        continue;
      }
      REQUIRE(o.type == (half ? DType::F16 : DType::BF16));
      const float* x = reinterpret_cast<const float*>(t.data);
      const uint16_t* h = reinterpret_cast<const uint16_t*>(o.data);
      size_t wrong = 0;
      for (int64_t i = 0; i < t.elements(); ++i) {
        wrong += h[i] != (half ? fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]));
      }
      CHECK_EQ(wrong, size_t(0));
    }
  }
}

TEST_CASE("shared: --refine keeps the types and lowers the error below llama-quantize's") {
  const GgufFile f32 = open_gguf(synth("f32"));
  for (const char* type : {"Q4_K_M", "Q5_K_M", "Q6_K"}) {
    const std::string out = loam_test::temp_dir() + "/refined-" + type + ".gguf";
    QuantizeOptions o;
    REQUIRE(parse_file_type(type, o.file_type));
    o.n_threads = 2;
    o.refine_k = true;
    REQUIRE(quantize_model(synth("f32"), out, o));
    const GgufFile ours = open_gguf(out);
    const GgufFile ref = open_gguf(synth(type));
    double sq_ours = 0, sq_ref = 0;
    for (const GgufTensorInfo& t : f32.tensors()) {
      const GgufTensorInfo& a = *ours.find_tensor(t.name);
      const GgufTensorInfo& b = *ref.find_tensor(t.name);
      CHECK(a.type == b.type);
      const float* x = reinterpret_cast<const float*>(t.data);
      const std::vector<float> da = to_f32(a), db = to_f32(b);
      for (size_t i = 0; i < da.size(); ++i) {
        sq_ours += (static_cast<double>(da[i]) - x[i]) * (static_cast<double>(da[i]) - x[i]);
        sq_ref += (static_cast<double>(db[i]) - x[i]) * (static_cast<double>(db[i]) - x[i]);
      }
    }
    const double ratio = std::sqrt(sq_ours / sq_ref);
    std::fprintf(stderr, "  %-6s --refine error ratio vs llama-quantize %.4f\n", type, ratio);
    CHECK(ratio < 1.0);
    std::remove(out.c_str());
  }
}

TEST_CASE("shared: metadata matches llama-quantize's file: keys, values, file_type, alignment") {
  // general.file_type numbers from llama.cpp's llama.h (enum llama_ftype).
  const std::map<std::string, uint64_t> kFtype = {{"Q8_0", 7},  {"Q4_0", 2},  {"Q4_K_M", 15},
                                                  {"Q5_K_M", 17}, {"Q6_K", 18}, {"F16", 1},
                                                  {"BF16", 32}};
  for (const char* type : kTypes) {
    const GgufFile ours = open_gguf(quantized_synth(type));
    const GgufFile ref = open_gguf(synth(type));
    CHECK_EQ(ours.metadata().size(), ref.metadata().size());
    for (const GgufKeyValue& kv : ref.metadata()) {
      const GgufValue* v = ours.find(kv.key);
      if (v == nullptr || !same_value(*v, kv.value)) {
        loam_test::record_failure(__FILE__, __LINE__, std::string(type) + ": key " + kv.key +
                                  (v ? " differs: " + v->render() : " is missing"));
      }
    }
    const GgufValue* ft = ours.find("general.file_type");
    REQUIRE(ft != nullptr);
    CHECK(ft->type == GgufType::U32);
    CHECK_EQ(ft->u64, kFtype.at(type));
    const GgufValue* qv = ours.find("general.quantization_version");
    REQUIRE(qv != nullptr);
    CHECK_EQ(qv->u64, uint64_t(2));
    CHECK_EQ(ours.alignment(), ref.alignment());
    CHECK_EQ(ours.version(), 3u);
  }
}

TEST_CASE("shared: the outputs load, keep vocab and config, and give logits close to the references") {
  using namespace loam_test::golden;
  auto f32 = loam_test::load_or_stop(synth("f32"));
  for (const char* type : kTypes) {
    const std::string t = type;
    auto ours = loam_test::load_or_stop(quantized_synth(t));
    auto ref = loam_test::load_or_stop(synth(t));
    CHECK(ours->vocab.pieces == f32->vocab.pieces);
    CHECK(ours->vocab.scores == f32->vocab.scores);
    CHECK(ours->vocab.types == f32->vocab.types);
    CHECK_EQ(ours->vocab.bos_id, f32->vocab.bos_id);
    CHECK_EQ(ours->vocab.eos_id, f32->vocab.eos_id);
    CHECK_EQ(ours->config.n_embd, f32->config.n_embd);
    CHECK_EQ(ours->config.n_layer, f32->config.n_layer);
    CHECK_EQ(ours->config.n_head_kv, f32->config.n_head_kv);
    CHECK_EQ(ours->config.n_ff, f32->config.n_ff);
    CHECK_EQ(ours->config.n_ctx_train, f32->config.n_ctx_train);
    CHECK_EQ(ours->config.rms_eps, f32->config.rms_eps);

    // Same engine on both files, so only the quantization differs. (The engine against the
    // goldens is test_golden_logits_quantized's job: our files have the reference files' bytes,
    // so they pass there exactly when the reference files do. Shown here for information.)
    double worst_vs_ref = 0, worst_vs_golden = 0;
    for (const Golden& g : read_goldens("synth-tiny-" + t)) {
      const std::vector<float> a = engine_rows(ours, g, false);
      const std::vector<float> b = engine_rows(ref, g, false);
      const size_t V = static_cast<size_t>(g.n_vocab);
      REQUIRE(a.size() == b.size() && a.size() == g.logits.size());
      for (size_t r = 0; r * V < a.size(); ++r) {
        const auto s = loam_test::row_stats(&a[r * V], &b[r * V], V);
        worst_vs_ref = std::max(worst_vs_ref, s.rel_rms);
        CHECK(s.rel_rms <= 2e-2);
        worst_vs_golden =
            std::max(worst_vs_golden, loam_test::row_stats(&a[r * V], &g.logits[r * V], V).rel_rms);
      }
    }
    std::fprintf(stderr, "  %-6s logits: worst rel RMS vs the reference file %.3g (vs golden %.3g)\n",
                 type, worst_vs_ref, worst_vs_golden);
  }
}

TEST_CASE("shared: output bytes do not depend on the thread count") {
  const std::string in = synth("f32");
  const std::string dir = loam_test::temp_dir();
  for (const char* type : {"Q4_K_M", "Q4_0"}) {
    std::string first;
    for (int threads : {1, 2, 3}) {
      const std::string out = dir + "/threads-" + std::to_string(threads) + ".gguf";
      REQUIRE(quantize(in, out, type, threads));
      const std::string bytes = slurp(out);
      if (first.empty()) first = bytes;
      CHECK(bytes == first);
      std::remove(out.c_str());
    }
  }
}

// ---- llama2.c input -------------------------------------------------------------------------

TEST_CASE("shared: llama2.c aidreams260K.bin to F32 equals the third-party GGUF conversion") {
  const std::string bin = loam_test::shared_file("models/aidreams260K.bin");
  const std::string tok = loam_test::shared_file("models/tok512.bin");
  const std::string out = loam_test::temp_dir() + "/aidreams-f32.gguf";
  QuantizeResult res;
  const Status st = quantize(bin, out, "F32", 2, tok, &res);
  if (!st) std::fprintf(stderr, "  %s\n", st.message().c_str());
  REQUIRE(st);
  CHECK_EQ(res.format, std::string("llama2c"));
  const GgufFile ours = open_gguf(out);
  const GgufFile ref = open_gguf(loam_test::shared_file("models/aidreams260K.gguf"));
  // Same weights under the same names; the shared classifier stays tied (no output.weight).
  CHECK(ours.find_tensor("output.weight") == nullptr);
  CHECK_EQ(ours.tensors().size() + 1, ref.tensors().size());
  for (const GgufTensorInfo& t : ours.tensors()) {
    const GgufTensorInfo* r = ref.find_tensor(t.name);
    REQUIRE(r != nullptr);
    CHECK(t.type == DType::F32);
    CHECK(t.nbytes == r->nbytes && std::memcmp(t.data, r->data, t.nbytes) == 0);
  }
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type", "tokenizer.ggml.model",
                          "llama.context_length", "llama.embedding_length", "llama.block_count",
                          "llama.feed_forward_length", "llama.attention.head_count",
                          "llama.attention.head_count_kv", "llama.rope.dimension_count"}) {
    const GgufValue* a = ours.find(key);
    const GgufValue* b = ref.find(key);
    REQUIRE(a != nullptr && b != nullptr);
    // The converters pick different integer widths for a few keys; the numbers must agree.
    int64_t ia = 0, ib = 0;
    if (a->to_int(ia) && b->to_int(ib)) {
      CHECK_EQ(ia, ib);
    } else if (!same_value(*a, *b)) {
      loam_test::record_failure(__FILE__, __LINE__, std::string("key differs: ") + key);
    }
  }
  // The output runs like the checkpoint did for the goldens (F32 limit).
  using namespace loam_test::golden;
  auto model = loam_test::load_or_stop(out);
  CHECK(model->config.tied_embeddings);
  Worst w;
  for (const Golden& g : read_goldens("aidreams260K")) {
    check_rows(g, engine_rows(model, g, false), Kind::F32, w, "one eval");
  }
  CHECK(w.rows > 0);
}

TEST_CASE("shared: llama2.c to Q4_K_M: tied output and fallbacks for rows of 64 and 172") {
  const std::string bin = loam_test::shared_file("models/aidreams260K.bin");
  const std::string tok = loam_test::shared_file("models/tok512.bin");
  const std::string out = loam_test::temp_dir() + "/aidreams-q4km.gguf";
  QuantizeResult res;
  REQUIRE(quantize(bin, out, "Q4_K_M", 2, tok, &res));
  const GgufFile f = open_gguf(out);
  auto type_of = [&](const std::string& name) {
    const GgufTensorInfo* t = f.find_tensor(name);
    REQUIRE(t != nullptr);
    return std::string(dtype_name(t->type));
  };
  // Worked out by hand: dim 64 and ffn 172 fit no 256-element block. token_embd doubles as the
  // output: Q6_K does not fit 64, so Q8_0. Q4_K -> Q5_0 for rows of 64; Q6_K (attn_v and
  // ffn_down of layers 2 and 3, use_more_bits with 4 layers) -> Q8_0 for 64; rows of 172 fit
  // no 32-element type either -> F16.
  CHECK_EQ(type_of("token_embd.weight"), std::string("Q8_0"));
  CHECK_EQ(type_of("output_norm.weight"), std::string("F32"));
  for (int l = 0; l < 4; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const bool more = l >= 2;
    CHECK_EQ(type_of(b + "attn_q.weight"), std::string("Q5_0"));
    CHECK_EQ(type_of(b + "attn_k.weight"), std::string("Q5_0"));
    CHECK_EQ(type_of(b + "attn_v.weight"), std::string(more ? "Q8_0" : "Q5_0"));
    CHECK_EQ(type_of(b + "attn_output.weight"), std::string("Q5_0"));
    CHECK_EQ(type_of(b + "ffn_gate.weight"), std::string("Q5_0"));
    CHECK_EQ(type_of(b + "ffn_up.weight"), std::string("Q5_0"));
    CHECK_EQ(type_of(b + "ffn_down.weight"), std::string("F16"));
    CHECK_EQ(type_of(b + "attn_norm.weight"), std::string("F32"));
  }
  // Every layer matrix; token_embd's Q8_0 comes from the output rule itself, not a fallback.
  CHECK_EQ(res.n_fallback, size_t(4 * 7));
  auto model = loam_test::load_or_stop(out);
  CHECK_EQ(model->vocab.size(), 512);
}

TEST_CASE("shared: llama2.c to Q8_0 is refused: ffn_down rows of 172 fit no 32-element block") {
  const std::string out = loam_test::temp_dir() + "/aidreams-q8.gguf";
  const Status st = quantize(loam_test::shared_file("models/aidreams260K.bin"), out, "Q8_0", 2,
                             loam_test::shared_file("models/tok512.bin"));
  REQUIRE(!st);
  CHECK(st.message().find("ffn_down.weight") != std::string::npos);
  CHECK(st.message().find("172") != std::string::npos);
  CHECK(!exists(out));
  CHECK(!exists(out + ".tmp"));
}

TEST_CASE("shared: a llama2.c checkpoint without --tokenizer is refused") {
  const std::string out = loam_test::temp_dir() + "/stories.gguf";
  const Status st = quantize(loam_test::shared_file("models/stories260K.bin"), out, "Q8_0");
  REQUIRE(!st);
  CHECK(st.message().find("--tokenizer") != std::string::npos);
  CHECK(!exists(out));
}

// ---- refusals -------------------------------------------------------------------------------

TEST_CASE("shared: refuses to overwrite its input, however the output path is spelled") {
  const std::string dir = loam_test::temp_dir() + "/same";
  REQUIRE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST);
  REQUIRE(mkdir((dir + "/sub").c_str(), 0755) == 0 || errno == EEXIST);
  const std::string in = dir + "/in.gguf";
  copy_file(synth("f32"), in);
  const std::string original = slurp(in);
  REQUIRE(!original.empty());
  REQUIRE(symlink(in.c_str(), (dir + "/link.gguf").c_str()) == 0);
  REQUIRE(link(in.c_str(), (dir + "/hard.gguf").c_str()) == 0);
  for (const std::string& out : {in, dir + "/./in.gguf", dir + "/sub/../in.gguf",
                                 dir + "/link.gguf", dir + "/hard.gguf"}) {
    const Status st = quantize(in, out, "Q8_0");
    CHECK(!st);
    CHECK(st.message().find("overwrite the input") != std::string::npos);
  }
  // The writer's temporary OUT.tmp must not be the input either.
  const std::string tmp_in = dir + "/x.gguf.tmp";
  copy_file(in, tmp_in);
  const Status st = quantize(tmp_in, dir + "/x.gguf", "Q8_0");
  CHECK(!st);
  CHECK(slurp(tmp_in) == original);
  CHECK(slurp(in) == original);
  CHECK(!exists(in + ".tmp"));
  CHECK(!exists(dir + "/x.gguf"));
  // A directory as OUT is refused before any work.
  CHECK(!quantize(in, dir + "/sub", "Q8_0"));
}

TEST_CASE("shared: quantized input is refused, naming the tensor; an existing OUT is untouched") {
  const std::string out = loam_test::temp_dir() + "/requant.gguf";
  std::ofstream(out) << "old";
  const Status st = quantize(synth("Q8_0"), out, "Q4_K_M");
  REQUIRE(!st);
  CHECK(st.message().find("already quantized") != std::string::npos);
  CHECK(st.message().find("Q8_0") != std::string::npos);
  CHECK(st.message().find(".weight'") != std::string::npos);
  CHECK_EQ(slurp(out), std::string("old"));
  CHECK(!exists(out + ".tmp"));
}

TEST_CASE("shared: a GGUF without a vocabulary takes one from --tokenizer") {
  // synth-tiny-f32 without its tokenizer.* keys, written with the project's GGUF writer.
  const GgufFile f32 = open_gguf(synth("f32"));
  GgufWriter w;
  for (const GgufKeyValue& kv : f32.metadata()) {
    if (kv.key.compare(0, 10, "tokenizer.") != 0) w.set(kv.key, kv.value);
  }
  for (const GgufTensorInfo& t : f32.tensors()) {
    REQUIRE(w.add_tensor_view(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data,
                              t.nbytes));
  }
  const std::string bare = loam_test::temp_dir() + "/no-vocab.gguf";
  REQUIRE(w.write(bare));
  const std::string out = loam_test::temp_dir() + "/with-vocab.gguf";
  REQUIRE(quantize(bare, out, "Q8_0", 2, loam_test::shared_file("models/tok512.bin")));
  // synth-tiny's vocabulary is tok512 (../shared/README.md): the same pieces come back.
  auto model = loam_test::load_or_stop(out);
  auto ref = loam_test::load_or_stop(synth("f32"));
  CHECK(model->vocab.pieces == ref->vocab.pieces);
  CHECK(model->vocab.types == ref->vocab.types);
  CHECK_EQ(model->vocab.bos_id, ref->vocab.bos_id);
}

TEST_CASE("shared: missing input, and a GGUF with a vocabulary plus --tokenizer, are refused") {
  const std::string out = loam_test::temp_dir() + "/missing-out.gguf";
  const std::string missing = loam_test::temp_dir() + "/no-such-model.gguf";
  const Status st = quantize(missing, out, "Q8_0");
  REQUIRE(!st);
  CHECK(st.message().find(missing) != std::string::npos);
  CHECK(!exists(out));
  const Status twice = quantize(synth("f32"), out, "Q8_0", 2,
                                loam_test::shared_file("models/tok512.bin"));
  REQUIRE(!twice);
  CHECK(twice.message().find("already has a vocabulary") != std::string::npos);
}

}  // namespace
