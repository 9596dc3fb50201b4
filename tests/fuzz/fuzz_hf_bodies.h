// The body of fuzz_hf: Hugging Face checkpoint readers on arbitrary bytes. The first byte picks
// the reader (mod 6), the rest is its input:
//   0 safetensors file (SafetensorsFile::parse on a mapping of the rest)
//   1 config.json   2 generation_config.json   3 tokenizer.json
//   4 tokenizer_config.json (applied to a small tokenizer)   5 model.safetensors.index.json
// tests/test_fuzz_hf.cpp runs it over seeds and their mutations in the normal suite.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "formats/hf_config.h"
#include "formats/hf_tokenizer.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_support.h"

namespace loam_fuzz {

inline void check_safetensors(const MappedInput& input, const loam::SafetensorsFile& f,
                              FuzzResult& r) {
  std::vector<std::pair<const uint8_t*, size_t>> spans;
  for (const loam::SafetensorsTensor& t : f.tensors()) {
    const uint64_t elem = t.type == loam::DType::F32 ? 4 : 2;
    r.expect(t.nbytes == static_cast<uint64_t>(t.elements()) * elem,
             "tensor '" + t.name + "' size disagrees with its shape");
    r.expect(t.nbytes == 0 || input.contains(t.data, t.nbytes),
             "tensor '" + t.name + "' lies outside the file");
    if (t.nbytes > 0) {
      const volatile uint8_t* bytes = t.data;
      (void)(bytes[0] + bytes[t.nbytes - 1]);
    }
    spans.emplace_back(t.data, t.nbytes);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    r.expect(spans[i - 1].first + spans[i - 1].second <= spans[i].first, "tensors overlap");
  }
}

inline FuzzResult fuzz_hf(const uint8_t* data, size_t size) {
  FuzzResult r;
  if (size == 0) return r;
  const int mode = data[0] % 6;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  loam::Status st;
  switch (mode) {
    case 0: {
      const MappedInput input(data + 1, size - 1, "fuzz.safetensors");
      if (input.file() == nullptr) return r;
      loam::SafetensorsFile f;
      st = loam::SafetensorsFile::parse(input.file(), f);
      if (st) check_safetensors(input, f, r);
      break;
    }
    case 1:
    case 2: {
      loam::HfConfig c;
      st = mode == 1 ? loam::parse_hf_config(text, "config.json", c)
                     : loam::parse_hf_generation_config(text, "generation_config.json", c);
      if (st && mode == 1) {
        r.expect(c.hidden_size > 0 && c.num_attention_heads > 0 && c.head_dim > 0 &&
                     c.head_dim % 2 == 0 && c.num_key_value_heads > 0,
                 "parse_hf_config accepted a non-positive or odd dimension");
        r.expect(c.rope_freq_factors.empty() ||
                     c.rope_freq_factors.size() == static_cast<size_t>(c.head_dim / 2),
                 "rope factors of the wrong length");
        for (const float f : c.rope_freq_factors) {
          r.expect(std::isfinite(f) && f > 0, "a rope factor that is not positive and finite");
        }
      }
      break;
    }
    case 3:
    case 4: {
      loam::HfTokenizer tok;
      if (mode == 3) {
        st = loam::parse_hf_tokenizer_json(text, "tokenizer.json", tok);
      } else {
        tok.pieces = {"a", "b", "<s>", "</s>"};
        tok.types = {loam::TokenType::Normal, loam::TokenType::Normal, loam::TokenType::Control,
                     loam::TokenType::Control};
        st = loam::parse_hf_tokenizer_config(text, "tokenizer_config.json", tok);
      }
      if (st) {
        r.expect(tok.pieces.size() == tok.types.size(), "pieces and types of different lengths");
        r.expect(tok.bos_id < static_cast<int32_t>(tok.pieces.size()) &&
                     tok.eos_id < static_cast<int32_t>(tok.pieces.size()),
                 "a special token id outside the vocabulary");
        for (const std::string& m : tok.merges) {
          r.expect(m.find(' ') != std::string::npos, "a merge without a space");
        }
      }
      break;
    }
    default: {
      std::vector<std::string> shards;
      std::unordered_map<std::string, std::string> map;
      st = loam::SafetensorsSet::parse_index(text, "index.json", shards, map);
      if (st) {
        for (const auto& [name, shard] : map) {
          r.expect(shard.find('/') == std::string::npos, "a shard path outside the directory");
          r.expect(std::find(shards.begin(), shards.end(), shard) != shards.end(),
                   "a shard missing from the list");
        }
      }
      break;
    }
  }
  if (st) {
    r.accepted = true;
  } else {
    r.reject(st.message());
  }
  return r;
}

}  // namespace loam_fuzz
