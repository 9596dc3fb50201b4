// Models built in memory for `loam bench --synthetic`: their sizes against the published figures
// (parameter counts from the models' cards and configs, and tensor bytes computed by hand from
// the GGUF block sizes), determinism of the weights, and the memory check.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "harness/test.h"
#include "loam/session.h"
#include "model/model_shapes.h"
#include "model/synthetic_model.h"
#include "quant/dequantize.h"

using namespace loam;

namespace {

SyntheticPlan plan_of(const std::string& spec) {
  SyntheticPlan p;
  const Status st = plan_synthetic_model(spec, p);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, st.message());
  return p;
}

}  // namespace

TEST_CASE("synthetic shapes have the published parameter counts") {
  // Published totals (model cards / `model.num_parameters()` of the Hugging Face checkpoints;
  // llama2.c's from its dimensions: embeddings + layers x (4 dim^2 + 3 dim ffn + 2 dim) + dim).
  struct Expect {
    const char* shape;
    uint64_t n_params;
  };
  const Expect expected[] = {
      // 32000*288 + 6*(4*288*288 + 3*288*768 + 2*288) + 288
      {"stories15M", 15191712ull},
      // 32000*768 + 12*(4*768*768 + 3*768*2048 + 2*768) + 768
      {"stories110M", 109529856ull},
      {"tinyllama-1.1b", 1100048384ull},
      {"llama3.2-1b", 1235814400ull},
      {"llama3.2-3b", 3212749824ull},
      {"llama2-7b", 6738415616ull},
      {"mistral-7b", 7241732096ull},
      {"llama3-8b", 8030261248ull},
  };
  CHECK_EQ(model_shapes().size(), sizeof expected / sizeof expected[0]);
  for (const Expect& e : expected) {
    const SyntheticPlan p = plan_of(std::string(e.shape) + ":f32");
    CHECK_EQ(p.n_params, e.n_params);
    // F32: four bytes a parameter.
    CHECK_EQ(p.weight_bytes, 4 * e.n_params);
  }
}

TEST_CASE("synthetic shapes: GQA, tied embeddings and vocabularies as published") {
  const ModelShape* l3 = find_model_shape("LLAMA3.2-1B");
  REQUIRE(l3 != nullptr);
  CHECK_EQ(l3->config.n_head_kv, 8);
  CHECK_EQ(l3->config.n_vocab, 128256);
  CHECK(l3->config.tied_embeddings);
  CHECK_EQ(l3->config.rope_freq_base, 500000.0f);
  const ModelShape* tl = find_model_shape("tinyllama-1.1b");
  REQUIRE(tl != nullptr);
  CHECK_EQ(tl->config.n_head / tl->config.n_head_kv, 8);
  CHECK(!tl->config.tied_embeddings);
  const SyntheticPlan tied = plan_of("llama3.2-3b:q8_0");
  bool has_output = false;
  for (const SyntheticTensor& t : tied.tensors) has_output |= t.name == "output.weight";
  CHECK(!has_output);
  CHECK_EQ(find_model_shape("llama3-70b"), nullptr);
}

TEST_CASE("synthetic tensor bytes equal those of the GGUF files, computed by hand") {
  // TinyLlama Q4_0 (llama-quantize): every matrix Q4_0 (18 bytes per 32 weights) except
  // output.weight, which gets Q6_K (210 bytes per 256); norms stay F32.
  //   token_embd 32000*2048/32*18                      =  36,864,000
  //   per layer: (2*2048*2048 + 2*2048*256 + 3*2048*5632)/32*18 + 2*2048*4 = 24,788,992; x 22
  //                                                    = 545,357,824
  //   output_norm 2048*4 = 8,192; output 32000*2048/256*210 = 53,760,000
  // = 635,990,016 bytes, the 606.53 MiB llama-bench reports for TinyLlama Q4_0.
  CHECK_EQ(plan_of("tinyllama-1.1b:q4_0").weight_bytes, 635990016ull);
  // Llama 2 7B Q4_0: 32000*4096/32*18 + 32*((4*4096^2 + 3*4096*11008)/32*18 + 2*4096*4)
  //   + 4096*4 + 32000*4096/256*210 = 3,825,065,984 bytes (llama-bench: "3.56 GiB").
  CHECK_EQ(plan_of("llama2-7b:q4_0").weight_bytes, 3825065984ull);
  // TinyLlama Q8_0: 34 bytes per 32 weights everywhere (output stays Q8_0 in a Q8_0 file):
  //   (1,100,048,384 - 45*2048) / 32 * 34 + 45*2048*4 = 1,169,072,128 (llama-bench: "1.09 GiB").
  CHECK_EQ(plan_of("tinyllama-1.1b:Q8_0").weight_bytes, 1169072128ull);
  // F16: 2 bytes a weight, norms (45 x 2048) in F32: 2*1,100,048,384 + 45*2048*2 = 2,200,281,088.
  CHECK_EQ(plan_of("tinyllama-1.1b:f16").weight_bytes, 2200281088ull);
  // Q4_K_M: Q6_K for attn_v and ffn_down in layers 0,1,4,7,10,13,16,19,20,21 (llama-quantize's
  // use_more_bits for 22 layers) and for output.weight; Q4_K (144 bytes / 256) elsewhere.
  const SyntheticPlan km = plan_of("tinyllama-1.1b:q4_k_m");
  int q6_v = 0, q6_down = 0;
  for (const SyntheticTensor& t : km.tensors) {
    if (t.type != DType::Q6_K) continue;
    q6_v += t.name.find("attn_v") != std::string::npos;
    q6_down += t.name.find("ffn_down") != std::string::npos;
  }
  CHECK_EQ(q6_v, 10);
  CHECK_EQ(q6_down, 10);
  // 10 layers with Q6_K v/down, 12 without:
  //   v: 2048*256 = 524,288 weights, down: 2048*5632 = 11,534,336 weights.
  //   q, k, o, gate, up in Q4_K: (2*2048*2048 + 2048*256 + 2*2048*5632)/256*144 = 17,989,632 a
  //   layer; v + down: (524,288 + 11,534,336)/256*144 = 6,782,976 in Q4_K, /256*210 = 9,891,840
  //   in Q6_K. Layers: 22*17,989,632 + 12*6,782,976 + 10*9,891,840 + 22*2*2048*4 = 576,446,464;
  //   token_embd Q4_K 32000*2048/256*144 = 36,864,000; output Q6_K 53,760,000; output_norm 8,192
  // = 667,078,656 bytes (636.2 MiB).
  CHECK_EQ(km.weight_bytes, 667078656ull);
}

TEST_CASE("synthetic weights are deterministic, independent of threads, sane, and seeded") {
  const SyntheticPlan p = plan_of("stories15M:q4_0");
  Model a, b, c;
  REQUIRE(build_synthetic_model(p, 7, 1, false, a));
  REQUIRE(build_synthetic_model(p, 7, 3, false, b));
  REQUIRE(build_synthetic_model(p, 8, 2, false, c));
  REQUIRE(a.tensors.size() == p.tensors.size());
  bool all_same = true, any_differs_by_seed = false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    all_same &= std::memcmp(a.tensors[i].data, b.tensors[i].data, a.tensors[i].nbytes) == 0;
    any_differs_by_seed |= std::memcmp(a.tensors[i].data, c.tensors[i].data, a.tensors[i].nbytes) != 0;
  }
  CHECK(all_same);
  CHECK(any_differs_by_seed);
  // Every weight is finite and small (so activations stay finite), and not all the same.
  for (const Tensor* t : {&a.layers[0].wq, &a.layers[5].ffn_down, &a.tok_embd}) {
    std::vector<float> row(static_cast<size_t>(t->cols()));
    double sum_sq = 0;
    bool finite_small = true;
    for (int64_t r = 0; r < t->rows(); r += 37) {
      REQUIRE(dequantize_row(t->type, t->row(r), row.data(), t->cols()));
      for (float w : row) {
        finite_small &= std::isfinite(w) && std::fabs(w) < 0.3f;
        sum_sq += static_cast<double>(w) * w;
      }
    }
    CHECK(finite_small);
    CHECK(sum_sq > 0);
  }
  CHECK_EQ(std::string(a.output.data == a.tok_embd.data ? "tied" : "untied"), std::string("tied"));
  std::vector<float> norm(static_cast<size_t>(a.config.n_embd));
  REQUIRE(dequantize_row(a.layers[2].attn_norm.type, a.layers[2].attn_norm.data, norm.data(), a.config.n_embd));
  CHECK_EQ(norm[0], 1.0f);
  CHECK_EQ(norm.back(), 1.0f);
}

TEST_CASE("a synthetic model runs: finite logits, the same for 1 and 2 threads") {
  const SyntheticPlan p = plan_of("stories15M:q8_0");
  auto model = std::make_shared<Model>();
  REQUIRE(build_synthetic_model(p, 1, 2, true, *model));
  std::vector<float> logits[2];
  for (int t = 1; t <= 2; ++t) {
    SessionOptions so;
    so.n_ctx = 32;
    so.n_threads = t;
    std::unique_ptr<Session> s;
    REQUIRE(Session::create(model, so, s));
    REQUIRE(s->eval(std::vector<int32_t>{1, 500, 9000, 31999}));
    logits[t - 1].assign(s->logits(), s->logits() + model->config.n_vocab);
  }
  bool finite = true;
  for (float v : logits[0]) finite &= std::isfinite(v);
  CHECK(finite);
  CHECK(logits[0] == logits[1]);
}

TEST_CASE("bad synthetic specs are refused with the known names") {
  SyntheticPlan p;
  Status st = plan_synthetic_model("tinyllama-1.1b", p);
  CHECK(!st && st.message().find("SHAPE:TYPE") != std::string::npos);
  st = plan_synthetic_model("gpt5:q4_0", p);
  CHECK(!st && st.message().find("llama2-7b") != std::string::npos);
  st = plan_synthetic_model("llama2-7b:q3_k", p);
  CHECK(!st && st.message().find("Q4_K_M") != std::string::npos);
}

TEST_CASE("memory: the check names the bytes needed and available; sizes parse") {
  MemoryBudget budget;
  budget.available = 1000;
  budget.source = "test";
  CHECK(check_memory("x", 1000, budget));
  const Status st = check_memory("synthetic model llama2-7b:F16", 1001, budget);
  REQUIRE(!st);
  CHECK(st.message().find("1001 bytes") != std::string::npos);
  CHECK(st.message().find("1000 bytes") != std::string::npos);
  CHECK(st.message().find("(test)") != std::string::npos);
  uint64_t v = 0;
  CHECK(parse_byte_size("512M", v) && v == 512ull << 20);
  CHECK(parse_byte_size("8G", v) && v == 8ull << 30);
  CHECK(parse_byte_size("1.5GiB", v) && v == 3ull << 29);
  CHECK(parse_byte_size("4096", v) && v == 4096);
  CHECK(!parse_byte_size("", v));
  CHECK(!parse_byte_size("-1G", v));
  CHECK(!parse_byte_size("12X", v));
  CHECK(!parse_byte_size("G", v));
  // A cap below what the system has is the budget; the system's own figure is positive.
  const MemoryBudget capped = available_memory(12345);
  CHECK_EQ(capped.available, 12345ull);
  CHECK_EQ(capped.source, std::string("--max-memory"));
  CHECK(available_memory().available > 0);
}

TEST_CASE("Session::memory_bytes counts the KV cache the session allocates") {
  ModelConfig c = find_model_shape("llama2-7b")->config;
  // K and V: 2 x 32 layers x 4096 positions x 4096 floats x 4 bytes = 8 GiB, plus activations.
  const uint64_t kv = 2ull * 32 * 4096 * 4096 * 4;
  const uint64_t total = Session::memory_bytes(c, 4096, 2, DType::F32, DType::F32);
  CHECK(total >= kv);
  CHECK(total < kv + (256ull << 20));
  // The default cache is f16: 2 bytes a value, 4 GiB.
  const uint64_t total_f16 = Session::memory_bytes(c, 4096, 2);
  CHECK(total_f16 >= kv / 2);
  CHECK(total_f16 < kv / 2 + (256ull << 20));
}
