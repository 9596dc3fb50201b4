// Byte-level BPE (tokenizer.ggml.model "gpt2": GPT-2, Llama 3, SmolLM, ...). Every byte of the
// text is first written as one printable character (GPT-2's byte-to-unicode map: ' ' -> 'Ġ',
// '\n' -> 'Ċ'), so tokens are strings of those characters; the text is cut into words by the
// pre-tokenizer, and within each word adjacent symbols are merged by the rank of their pair in
// tokenizer.ggml.merges (lowest rank first, leftmost first among equal ranks).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "loam/status.h"
#include "loam/tokenizer.h"
#include "text/pretokenize.h"

namespace loam {

namespace byte_level {

// The code point GPT-2 writes byte b as: printable Latin-1 bytes ('!'..'~', '¡'..'¬',
// '®'..'ÿ') stand for themselves; the other 68 bytes take U+0100.. in byte order.
uint32_t code_point_of_byte(uint8_t b);

// The byte a code point stands for, or -1 when it is not one of the 256.
int byte_of_code_point(uint32_t cp);

// Bytes -> their byte-level text (UTF-8 of the mapped code points).
std::string encode(const char* bytes, size_t n);

// Byte-level text -> the bytes it stands for. Characters outside the map (text of a token
// that was not written byte-level) are kept as they are.
std::string decode(const std::string& text);

}  // namespace byte_level

class ByteBpe {
 public:
  // Builds the tables and checks what the tokenizer needs from a gpt2 vocabulary: a supported
  // tokenizer.ggml.pre, merges present and each one "LEFT RIGHT" with LEFT, RIGHT and LEFT+RIGHT
  // tokens. Messages start with `source` (the file) and name the key and entry at fault. The
  // GGUF loader keeps the result in Vocab::byte_bpe, so the tables are built once per load.
  static Status build(const Vocab& vocab, const std::string& source,
                      std::shared_ptr<const ByteBpe>& out);

  // Builds the tables without checks: merges that do not resolve to tokens are skipped and an
  // unsupported pre-tokenizer falls back to llama-bpe (for vocabularies built by hand).
  explicit ByteBpe(const Vocab& vocab);

  // Appends the ids of plain text (no special tokens) to `out`.
  void encode(const std::string& text, std::vector<int32_t>& out) const;

  // The id of the token whose text is exactly `piece` (byte-level form), -1 when none.
  int32_t find(const std::string& piece) const;

 private:
  struct Merge {
    int32_t rank;    // index in tokenizer.ggml.merges: lower merges first
    int32_t result;  // the token LEFT+RIGHT
  };

  ByteBpe() = default;
  // Fills the tables; with `source`, stops at the first problem and reports it.
  Status init(const Vocab& vocab, const std::string* source);
  void encode_word(const char* bytes, size_t n, std::vector<int32_t>& out) const;
  const Merge* find_merge(int32_t left, int32_t right) const;

  PreTokenizer pre_ = PreTokenizer::Llama3;
  // Llama 3 first looks the whole word up and emits it as one token when it exists, even
  // where merges alone would not build it (tokenizer.json's "ignore_merges": true).
  bool ignore_merges_ = false;
  std::unordered_map<std::string, int32_t> piece_to_id_;  // every token text (first id wins)
  std::vector<bool> reachable_;                           // [n_vocab] false: control/unknown
  int32_t byte_ids_[256] = {};                            // token of each byte's character, -1
  std::unordered_map<uint64_t, Merge> merges_;            // (left id << 32 | right id) -> merge
};

}  // namespace loam
