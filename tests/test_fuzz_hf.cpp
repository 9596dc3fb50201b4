// The fuzz_hf body (tests/fuzz/fuzz_hf_bodies.h) in the normal suite: seeds made by the test
// fixtures' writers must be accepted, and every prefix of them and seeded random corruptions
// must keep the readers' promises (a clean rejection is fine, a broken promise is not).
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_hf_bodies.h"
#include "harness/test.h"
#include "hf_fixtures.h"

namespace {

struct HfSeed {
  std::string name;
  std::string bytes;  // selector byte + input
};

std::vector<HfSeed> seeds() {
  std::vector<HfSeed> out;
  const std::string st = loam_test::temp_dir() + "/seed.safetensors";
  hf_fixture::write_safetensors(
      st, {{"model.embed_tokens.weight", "F16", {2, 4}, std::string(16, '\x3c')},
           {"model.norm.weight", "F32", {4}, std::string(16, '\0')},
           {"lm_head.weight", "BF16", {2, 4}, std::string(16, '\x3f')}});
  std::ifstream f(st, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  out.push_back({"safetensors", std::string(1, '\0') + bytes});
  out.push_back({"config", "\x01{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,"
                           "\"intermediate_size\":128,\"num_attention_heads\":4,"
                           "\"num_key_value_heads\":2,\"num_hidden_layers\":2,"
                           "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,"
                           "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                           "\"original_max_position_embeddings\":8192},\"eos_token_id\":[1,2]}"});
  out.push_back({"generation_config",
                 "\x02{\"temperature\":0.6,\"top_p\":0.9,\"eos_token_id\":[1,2]}"});
  out.push_back({"tokenizer", "\x03" + hf_fixture::tokenizer_json(true)});
  out.push_back({"tokenizer_config",
                 "\x04{\"bos_token\":\"<s>\",\"eos_token\":{\"content\":\"</s>\"},"
                 "\"add_bos_token\":true,"
                 "\"chat_template\":[{\"name\":\"default\",\"template\":\"x\"}]}"});
  out.push_back({"index", "\x05{\"metadata\":{},\"weight_map\":{\"a\":\"model-1.safetensors\","
                          "\"b\":\"model-2.safetensors\"}}"});
  return out;
}

loam_fuzz::FuzzResult run(const std::string& bytes) {
  return loam_fuzz::fuzz_hf(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("fuzz_hf seeds are accepted") {
  for (const HfSeed& s : seeds()) {
    const loam_fuzz::FuzzResult r = run(s.bytes);
    if (!r.accepted) loam_test::record_failure(__FILE__, __LINE__, s.name + ": " + r.error);
    CHECK(r.broken.empty());
  }
}

TEST_CASE("fuzz_hf prefixes and corruptions keep the promises") {
  std::mt19937 rng(2026);
  int rejected = 0;
  for (const HfSeed& s : seeds()) {
    for (size_t len = 1; len < s.bytes.size(); ++len) {
      const loam_fuzz::FuzzResult r = run(s.bytes.substr(0, len));
      rejected += r.accepted ? 0 : 1;
      if (!r.broken.empty()) {
        loam_test::record_failure(__FILE__, __LINE__, s.name + " cut to " +
                                  std::to_string(len) + ": " + r.broken);
        break;
      }
    }
    for (int i = 0; i < 2000; ++i) {
      std::string m = s.bytes;
      for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
        m[1 + rng() % (m.size() - 1)] = static_cast<char>(rng());
      }
      const loam_fuzz::FuzzResult r = run(m);
      if (!r.broken.empty()) {
        loam_test::record_failure(__FILE__, __LINE__, s.name + " mutation " +
                                  std::to_string(i) + ": " + r.broken);
        break;
      }
    }
  }
  CHECK(rejected > 0);  // cut inputs are refused (with a message), not taken
}
