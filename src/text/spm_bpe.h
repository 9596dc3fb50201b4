// SentencePiece BPE segmentation (the "llama" tokenizer model of LLaMA 1/2, Mistral, TinyLlama):
// the text is split into UTF-8 characters, then the adjacent pair whose concatenation is a
// vocabulary piece with the highest score is merged, again and again; characters left that are
// not pieces fall back to <0xNN> byte tokens.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace loam {

struct SpmTables {
  // Pieces that text may turn into (Normal, UserDefined, Unused, Undefined): never Control,
  // Unknown or Byte tokens, so "<s>" or "<0x41>" written in a prompt stays plain text.
  const std::unordered_map<std::string, int32_t>* piece_to_id = nullptr;
  const std::vector<float>* scores = nullptr;  // [n_vocab]
  const int32_t* byte_ids = nullptr;           // [256] token of each byte, -1 when none
  int32_t unk_id = -1;                         // used for bytes without a token; -1: dropped
};

// Appends the ids of `text` to `out`. `text` is already escaped (spaces as U+2581, the space
// prefix added). Runs in O(n log n) for n characters.
void spm_encode(const std::string& text, const SpmTables& tables, std::vector<int32_t>& out);

}  // namespace loam
