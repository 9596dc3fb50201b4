// Pre-tokenizers of byte-level BPE vocabularies: the text is cut into words before BPE runs on
// each word alone, following the split regexes of the vocabulary's tokenizer.json. Three are
// supported, written by hand (no regex engine):
//   llama-bpe (Llama 3):
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//     \s*[\r\n]+|\s+(?!\S)|\s+
//   gpt-2:
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   smollm (SmolLM, SmolLM2): two splits in turn. First every \p{N} character is a word of its
//     own (tokenizer.json's Digits pre-tokenizer with individual_digits); then the gpt-2 regex
//     cuts each stretch of text between those digits on its own, so no gpt-2 match reaches past
//     a stretch: " 1" is " " then "1", and "a  1" is "a", "  ", "1" (a space run that ends a
//     stretch is whole, as at the end of the text).
// Bytes that are not well-formed UTF-8 count as one character each, of no letter, number or
// space class (so they join a run of punctuation), and are never dropped.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "loam/status.h"

namespace loam {

enum class PreTokenizer {
  Llama3,  // tokenizer.ggml.pre "llama-bpe" (also written "llama3", "llama-v3")
  Gpt2,    // tokenizer.ggml.pre "gpt-2"
  SmolLm,  // tokenizer.ggml.pre "smollm"
};

// The pre-tokenizer a tokenizer.ggml.pre value names; an error naming the value and the
// supported ones otherwise.
Status pre_tokenizer_from_name(const std::string& name, PreTokenizer& out);

// Appends the words of `text` as [begin, end) byte ranges, in order; together they cover the
// whole text. Linear in the text length.
void pre_tokenize(const std::string& text, PreTokenizer kind,
                  std::vector<std::pair<size_t, size_t>>& words);

}  // namespace loam
