// Vocabulary and tokenizer (SentencePiece-style BPE with byte fallback, as LLaMA 1/2, Mistral and
// TinyLlama use). The loaders fill a Vocab from GGUF `tokenizer.ggml.*` keys or from a llama2.c
// tokenizer.bin; the Tokenizer encodes text to ids and decodes ids to bytes.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "loam/status.h"

namespace loam {

// Token kinds, numbered as GGUF's tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct Vocab {
  std::string model = "llama";          // tokenizer.ggml.model; only "llama" (SPM) is supported
  std::vector<std::string> pieces;      // [n_vocab] pieces, spaces written as U+2581 as in GGUF
  std::vector<float> scores;            // [n_vocab] merge priority (higher merges first)
  std::vector<TokenType> types;         // [n_vocab]
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  bool add_bos = true;                  // tokenizer.ggml.add_bos_token
  bool add_space_prefix = true;         // tokenizer.ggml.add_space_prefix

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  bool empty() const { return pieces.empty(); }
};

// Reads a llama2.c tokenizer.bin for a model with n_vocab tokens into `out` (pieces converted to
// the GGUF convention: ' ' -> U+2581, <0xNN> pieces typed as Byte, ids 0/1/2 as unk/bos/eos).
Status load_llama2c_tokenizer(const std::string& path, int32_t n_vocab, Vocab& out);

class Tokenizer {
 public:
  Tokenizer() = default;
  explicit Tokenizer(const Vocab& vocab);

  // Text to ids. Adds BOS first when add_bos is true. Special-token text such as "<s>" in the
  // input is treated as plain text.
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const;

  // The bytes a token stands for: U+2581 -> ' ', <0xNN> -> that byte, user-defined pieces
  // verbatim; control, unknown and unused tokens and out-of-range ids -> "" (as llama.cpp
  // renders them without `special`, the mode of the golden continuations).
  std::string piece_bytes(int32_t id) const;

  // Text for a whole sequence of ids: the concatenated piece_bytes, dropping the space prefix of
  // the first piece after a BOS at ids[0] (so decode(encode(t, true)) == t). Without a leading
  // BOS nothing is dropped, so a continuation decodes with its leading space.
  std::string decode(const std::vector<int32_t>& ids) const;

  const Vocab& vocab() const { return *vocab_; }

 private:
  const Vocab* vocab_ = nullptr;                            // must outlive the Tokenizer
  std::unordered_map<std::string, int32_t> piece_to_id_;   // pieces text can produce (no
                                                           // control/unknown/byte tokens)
  int32_t byte_ids_[256] = {};                             // <0xNN> token per byte, -1: none
};

// Turns a stream of token ids into text that never splits a UTF-8 sequence: bytes of an
// incomplete character are held back until the rest arrives (or flush() gives them up).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}
  // Returns the bytes that now form complete characters. `prev` is the token before `id` (-1
  // when none); it does not change the output: a piece after BOS keeps its leading space, as
  // the reference continuations (golden aidreams260K.p4, synth-tiny-BF16.p1) and llama.cpp do.
  // Bytes that can never complete a character are passed through at once.
  std::string push(int32_t prev, int32_t id);
  // Returns (and forgets) the held-back bytes of an incomplete final character.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;
};

}  // namespace loam
