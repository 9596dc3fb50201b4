// Special tokens: cutting their text out of a prompt before BPE (llama.cpp's parse_special), and
// finding every end-of-generation token of a vocabulary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loam/tokenizer.h"

namespace loam {

// A piece of the input: plain text [begin, end) to tokenize, or one special token (id >= 0).
struct TextFragment {
  size_t begin = 0, end = 0;
  int32_t id = -1;
};

// The tokens whose text may be cut out of a prompt (Control, UserDefined and Unknown tokens
// with non-empty text), longest text first (ties by id), the order they are searched in.
std::vector<int32_t> special_token_order(const Vocab& vocab);

// Cuts every occurrence of the texts of `specials` (in special_token_order) out of `text`:
// each special is searched in the text fragments the longer ones left. Control and Unknown
// tokens are cut only when parse_special is true; UserDefined ones always (as llama.cpp and
// Hugging Face tokenizers do: added tokens are never split by BPE).
void split_special_tokens(const std::string& text, const Vocab& vocab,
                          const std::vector<int32_t>& specials, bool parse_special,
                          std::vector<TextFragment>& out);

// Fills vocab.eot_id (when the file gave none) and vocab.eog_ids: eos, eot, eom and every token
// whose text is a known end-of-turn marker (<|eot_id|>, <|eom_id|>, <|end_of_text|>,
// <|endoftext|>, <|im_end|>, <|end|>, <end_of_turn>, </s>, <EOT>, ...), whatever its type, as
// llama.cpp does (chat fine-tunes often ship <|im_end|> as a user-defined token). Sorted.
void find_end_of_generation_ids(Vocab& vocab);

}  // namespace loam
