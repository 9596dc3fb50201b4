// Special-token splitting and end-of-generation ids (see special_tokens.h).
#include "text/special_tokens.h"

#include <algorithm>
#include <string_view>

namespace loam {

namespace {

TokenType type_of(const Vocab& v, int32_t id) {
  return static_cast<size_t>(id) < v.types.size() ? v.types[static_cast<size_t>(id)]
                                                  : TokenType::Normal;
}

// End-of-turn texts, in the order the end-of-turn (eot) token is chosen from when the file does
// not name one: the dedicated turn markers before the end-of-text ones.
const char* const kEndOfTurnTexts[] = {
    "<|eot_id|>",          // Llama 3
    "<|im_end|>",          // ChatML (Qwen, SmolLM, many fine-tunes)
    "<end_of_turn>",       // Gemma
    "<|end|>",             // Phi-3
    "<EOT>",               // CodeLlama infill
    "<end_of_utterance>",  // SmolDocling
    "<|endoftext|>",       // GPT-2, Phi
    "<|end_of_text|>",     // Llama 3 base, Granite
};

// Further texts that end generation without being the eot token.
const char* const kOtherEndTexts[] = {
    "<|eom_id|>",  // Llama 3.1 end of message (a tool call follows)
    "</s>",        // LLaMA 1/2, Mistral
    "<eos>",       // Gemma
};

}  // namespace

std::vector<int32_t> special_token_order(const Vocab& vocab) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType t = type_of(vocab, id);
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) &&
        !vocab.pieces[static_cast<size_t>(id)].empty()) {
      ids.push_back(id);
    }
  }
  std::stable_sort(ids.begin(), ids.end(), [&vocab](int32_t a, int32_t b) {
    return vocab.pieces[static_cast<size_t>(a)].size() >
           vocab.pieces[static_cast<size_t>(b)].size();
  });
  return ids;
}

void split_special_tokens(const std::string& text, const Vocab& vocab,
                          const std::vector<int32_t>& specials, bool parse_special,
                          std::vector<TextFragment>& out) {
  out.clear();
  if (!text.empty()) out.push_back({0, text.size(), -1});
  std::vector<TextFragment> next;
  for (int32_t id : specials) {
    const TokenType t = type_of(vocab, id);
    if (!parse_special && t != TokenType::UserDefined) continue;
    const std::string& piece = vocab.pieces[static_cast<size_t>(id)];
    next.clear();
    bool found = false;
    for (const TextFragment& f : out) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      // Searched within the fragment only, so many fragments do not make the search quadratic.
      const std::string_view fragment_view(text.data(), f.end);
      size_t pos = f.begin;
      while (pos < f.end) {
        const size_t hit = fragment_view.find(piece, pos);
        if (hit == std::string_view::npos) break;
        found = true;
        if (hit > pos) next.push_back({pos, hit, -1});
        next.push_back({hit, hit + piece.size(), id});
        pos = hit + piece.size();
      }
      if (pos < f.end) next.push_back({pos, f.end, -1});
    }
    if (found) out.swap(next);
  }
}

void find_end_of_generation_ids(Vocab& vocab) {
  const int32_t n = vocab.size();
  auto id_of = [&vocab, n](const char* text) {
    for (int32_t id = 0; id < n; ++id) {
      if (vocab.pieces[static_cast<size_t>(id)] == text) return id;
    }
    return int32_t{-1};
  };
  std::vector<int32_t> eog;
  for (const char* text : kEndOfTurnTexts) {
    const int32_t id = id_of(text);
    if (id < 0) continue;
    if (vocab.eot_id < 0) vocab.eot_id = id;
    eog.push_back(id);
  }
  for (const char* text : kOtherEndTexts) {
    if (const int32_t id = id_of(text); id >= 0) eog.push_back(id);
  }
  for (int32_t id : {vocab.eos_id, vocab.eot_id, vocab.eom_id}) {
    if (id >= 0 && id < n) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  vocab.eog_ids = std::move(eog);
}

}  // namespace loam
