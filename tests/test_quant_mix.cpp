// The per-tensor type rules of `loam quantize` (quant/quant_mix.h) on hand-made tensor lists.
// Expected types are worked out by hand from llama.cpp's llama-quantize rules as its source
// states them (llama_tensor_get_type); file type numbers are llama.h's enum llama_ftype.
#include <map>
#include <string>
#include <vector>

#include "harness/test.h"
#include "quant/quant_mix.h"

using namespace loam;

namespace {

// A llama-shaped tensor list: n_layer layers of [n_embd] norms and [cols, rows] matrices.
std::vector<MixTensor> llama_tensors(int n_layer, int64_t n_embd, int64_t n_ff, int64_t kv_dim,
                                     bool with_output) {
  std::vector<MixTensor> ts;
  auto add = [&](const std::string& name, int64_t cols, int64_t rows) {
    MixTensor t;
    t.name = name;
    t.n_dims = rows > 1 ? 2 : 1;
    t.ne[0] = cols;
    t.ne[1] = rows;
    ts.push_back(t);
  };
  add("token_embd.weight", n_embd, 32000);
  for (int l = 0; l < n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", n_embd, 1);
    add(b + "attn_q.weight", n_embd, n_embd);
    add(b + "attn_k.weight", n_embd, kv_dim);
    add(b + "attn_v.weight", n_embd, kv_dim);
    add(b + "attn_output.weight", n_embd, n_embd);
    add(b + "ffn_norm.weight", n_embd, 1);
    add(b + "ffn_gate.weight", n_embd, n_ff);
    add(b + "ffn_down.weight", n_ff, n_embd);
    add(b + "ffn_up.weight", n_embd, n_ff);
  }
  add("output_norm.weight", n_embd, 1);
  if (with_output) add("output.weight", n_embd, 32000);
  return ts;
}

std::map<std::string, std::string> plan_names(const std::string& type, const MixModelInfo& m,
                                              const std::vector<MixTensor>& ts) {
  FileType ft;
  REQUIRE(parse_file_type(type, ft));
  std::vector<MixChoice> plan;
  const Status st = plan_tensor_types(ft, m, ts, plan);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, st.message());
  REQUIRE(st);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < ts.size(); ++i) out[ts[i].name] = dtype_name(plan[i].type);
  return out;
}

TEST_CASE("rules: TinyLlama shape (22 layers) Q4_K_M: Q6_K layers are 0,1,4,7,10,13,16,19,20,21") {
  // By hand: n/8 = 2, 7n/8 = 19; i < 2, i >= 19, or (i - 2) % 3 == 2 -> 4, 7, 10, 13, 16.
  const bool more[22] = {1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1};
  MixModelInfo m;
  m.n_layer = 22;
  m.n_head = 32;
  m.n_head_kv = 4;
  const auto ts = llama_tensors(22, 2048, 5632, 256, true);
  for (const char* type : {"Q4_K_M", "Q5_K_M"}) {
    const auto p = plan_names(type, m, ts);
    const std::string base = std::string(type) == "Q4_K_M" ? "Q4_K" : "Q5_K";
    CHECK_EQ(p.at("output.weight"), std::string("Q6_K"));
    CHECK_EQ(p.at("token_embd.weight"), base);
    CHECK_EQ(p.at("output_norm.weight"), std::string("F32"));
    for (int l = 0; l < 22; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      const std::string want = more[l] ? "Q6_K" : base;
      CHECK_EQ(p.at(b + "attn_v.weight"), want);
      CHECK_EQ(p.at(b + "ffn_down.weight"), want);  // rows of 5632 = 22 x 256
      CHECK_EQ(p.at(b + "attn_q.weight"), base);
      CHECK_EQ(p.at(b + "ffn_up.weight"), base);
    }
  }
  // Q4_K_S: attn_v of layers 0..3 and ffn_down of layers 0..1 (< 22/8) get Q5_K.
  const auto s = plan_names("Q4_K_S", m, ts);
  for (int l = 0; l < 22; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    CHECK_EQ(s.at(b + "attn_v.weight"), std::string(l < 4 ? "Q5_K" : "Q4_K"));
    CHECK_EQ(s.at(b + "ffn_down.weight"), std::string(l < 2 ? "Q5_K" : "Q4_K"));
  }
  // Q6_K and Q8_0 files: one type for every matrix, output included.
  for (const char* type : {"Q6_K", "Q8_0"}) {
    for (const auto& kv : plan_names(type, m, ts)) {
      const bool norm = kv.first.find("norm") != std::string::npos;
      CHECK_EQ(kv.second, std::string(norm ? "F32" : type));
    }
  }
  // Q4_0: everything Q4_0 except output.weight (Q6_K).
  for (const auto& kv : plan_names("Q4_0", m, ts)) {
    if (kv.first.find("norm") != std::string::npos) continue;
    CHECK_EQ(kv.second, std::string(kv.first == "output.weight" ? "Q6_K" : "Q4_0"));
  }
}

TEST_CASE("rules: tied embeddings, 8 experts, 70B, row fallbacks and refusals") {
  MixModelInfo m;
  m.n_layer = 8;
  m.n_head = 8;
  m.n_head_kv = 8;
  // No output.weight: token_embd is the output projection and gets its Q6_K.
  auto tied = plan_names("Q4_K_M", m, llama_tensors(8, 256, 512, 256, false));
  CHECK_EQ(tied.at("token_embd.weight"), std::string("Q6_K"));
  const auto tied_q8 = plan_names("Q8_0", m, llama_tensors(8, 256, 512, 256, false));
  CHECK_EQ(tied_q8.at("token_embd.weight"), std::string("Q8_0"));
  // 8 experts: attn_v and attn_k become Q8_0, attn_output Q5_K (Q4_K_M).
  MixModelInfo moe = m;
  moe.n_expert = 8;
  auto e = plan_names("Q4_K_M", moe, llama_tensors(8, 256, 512, 256, true));
  CHECK_EQ(e.at("blk.3.attn_v.weight"), std::string("Q8_0"));
  CHECK_EQ(e.at("blk.3.attn_k.weight"), std::string("Q8_0"));
  CHECK_EQ(e.at("blk.3.attn_output.weight"), std::string("Q5_K"));
  // llama "70B" (80 layers, GQA): attn_v of the layers without more bits gets Q5_K, not Q4_K.
  MixModelInfo big = m;
  big.n_layer = 80;
  big.n_head = 64;
  auto b = plan_names("Q4_K_M", big, llama_tensors(80, 256, 512, 256, true));
  CHECK_EQ(b.at("blk.10.attn_v.weight"), std::string("Q5_K"));   // (10 - 10) % 3 = 0
  CHECK_EQ(b.at("blk.12.attn_v.weight"), std::string("Q6_K"));   // (12 - 10) % 3 = 2
  CHECK_EQ(b.at("blk.10.ffn_down.weight"), std::string("Q4_K"));
  // Rows of 96 (3 x 32): K types fall back to 32-element types; rows of 40: F16 (K) or an error
  // (a 32-element file type, as llama-quantize refuses it too).
  auto odd = plan_names("Q5_K_M", m, llama_tensors(8, 96, 96, 96, true));
  CHECK_EQ(odd.at("blk.1.attn_q.weight"), std::string("Q5_1"));
  CHECK_EQ(odd.at("blk.0.attn_v.weight"), std::string("Q8_0"));  // Q6_K -> Q8_0
  CHECK_EQ(odd.at("output.weight"), std::string("Q8_0"));
  // Rows of 40 fit no block: F16 for a K type, an error for a 32-element file type and for
  // output.weight (whose Q8_0 does not fit either), as llama-quantize refuses them too.
  std::vector<MixTensor> small(2);
  small[0].name = "blk.1.attn_q.weight";
  small[1].name = "blk.1.ffn_down.weight";
  for (MixTensor& t : small) t.n_dims = 2;
  small[0].ne[0] = 40;
  small[0].ne[1] = 40;
  small[1].ne[0] = 64;  // fits 32-element blocks
  small[1].ne[1] = 40;
  auto tiny = plan_names("Q4_K_M", m, small);
  CHECK_EQ(tiny.at("blk.1.attn_q.weight"), std::string("F16"));
  // The first ffn_down met counts as layer 0 for the rule (llama.cpp counts them): more bits,
  // Q6_K -> Q8_0 for rows of 64.
  CHECK_EQ(tiny.at("blk.1.ffn_down.weight"), std::string("Q8_0"));
  std::vector<MixChoice> plan;
  Status st = plan_tensor_types(FileType::MostlyQ4_0, m, small, plan);
  CHECK(!st);
  CHECK(st.message().find("'blk.1.attn_q.weight': row length 40") != std::string::npos);
  small[0].name = "output.weight";
  st = plan_tensor_types(FileType::MostlyQ4_K_M, m, small, plan);
  CHECK(!st);
  CHECK(st.message().find("'output.weight': row length 40") != std::string::npos);
  // F16: no mixing rules at all; 1-D tensors and [n, 1] matrices stay as they are.
  std::vector<MixTensor> v(1);
  v[0].name = "blk.0.attn_q.weight";
  v[0].n_dims = 2;
  v[0].ne[0] = 64;  // ne[1] = 1: a vector in ggml's eyes
  const auto vec = plan_names("Q8_0", m, v);
  CHECK_EQ(vec.at("blk.0.attn_q.weight"), std::string("F32"));
}

TEST_CASE("file type names and numbers are llama.cpp's (llama.h enum llama_ftype)") {
  const struct {
    const char* name;
    uint32_t number;
  } kWant[] = {{"F32", 0},     {"F16", 1},     {"Q4_0", 2},    {"Q4_1", 3},    {"Q8_0", 7},
               {"Q5_0", 8},    {"Q5_1", 9},    {"Q4_K_S", 14}, {"Q4_K_M", 15}, {"Q5_K_S", 16},
               {"Q5_K_M", 17}, {"Q6_K", 18},   {"BF16", 32},   {"q4_k_m", 15}, {"Q4_K", 15},
               {"Q5_K", 17}};
  for (const auto& w : kWant) {
    FileType ft;
    REQUIRE(parse_file_type(w.name, ft));
    CHECK_EQ(static_cast<uint32_t>(ft), w.number);
  }
  FileType ft;
  for (const char* bad : {"", "Q3_K_M", "Q4_K_MM", "IQ2_XS", "F64", "Q8_K"}) {
    CHECK(!parse_file_type(bad, ft));
  }
}

}  // namespace
