// Hugging Face tokenizer.json + tokenizer_config.json of a byte-level BPE model (Llama 3): the
// vocabulary in GGUF's form (the pieces are tokenizer.json's vocab keys, which already are the
// byte-level "Ġ" alphabet GGUF stores), merges as "a b" strings, added tokens typed control
// (special) or user-defined, the pre-tokenizer recognized by its split regex, and
// tokenizer_config.json's bos/eos tokens, add_bos and chat template.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loam/status.h"
#include "loam/tokenizer.h"

namespace loam {

struct HfTokenizer {
  std::vector<std::string> pieces;      // [n] by id; ids nobody names are "[PAD<id>]"
  std::vector<TokenType> types;         // [n]
  std::vector<std::string> merges;      // "a b", in priority order
  std::string pre = "llama-bpe";        // llama.cpp's pre-tokenizer name
  int32_t bos_id = -1, eos_id = -1;     // from tokenizer_config.json's bos_token / eos_token
  bool add_bos = true;                  // add_bos_token, else the post_processor, else true
  std::string chat_template;            // "" when none
};

// Parses tokenizer.json's text. Only a BPE model with the Llama 3 pre-tokenizer is accepted;
// anything else is an error naming what was found.
Status parse_hf_tokenizer_json(const std::string& text, const std::string& path,
                               HfTokenizer& out);

// Applies tokenizer_config.json (bos_token, eos_token, add_bos_token, chat_template) to a
// tokenizer parsed from tokenizer.json.
Status parse_hf_tokenizer_config(const std::string& text, const std::string& path,
                                 HfTokenizer& tok);

// tokenizer_config.json's chat_template alone ("" when absent).
Status parse_hf_chat_template(const std::string& text, const std::string& path, std::string& out);

// Pads the vocabulary to `n_vocab` ids with "[PAD<id>]" pieces of type Unused (the embedding
// table of Llama 3 has rows the tokenizer never names, as llama.cpp's converter pads them).
// Fails when the tokenizer has more tokens than that.
Status pad_hf_vocab(HfTokenizer& tok, int64_t n_vocab, const std::string& path);

// Fills the Vocab the tokenizer runs on (model "gpt2", pre, merges; the byte-level BPE tables
// built and checked once; end-of-generation ids: the vocabulary's known end-of-turn tokens plus
// `eos_ids`, config.json's and generation_config.json's). Messages start with `source`.
Status fill_vocab_from_hf(const HfTokenizer& tok, const std::vector<int64_t>& eos_ids,
                          const std::string& source, Vocab& out);

}  // namespace loam
