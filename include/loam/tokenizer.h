// Vocabulary and tokenizer: SentencePiece-style BPE with byte fallback ("llama": LLaMA 1/2,
// Mistral, TinyLlama) and byte-level BPE ("gpt2": Llama 3, GPT-2, SmolLM). The loaders fill a
// Vocab from GGUF `tokenizer.ggml.*` keys or from a llama2.c tokenizer.bin; the Tokenizer encodes
// text to ids and decodes ids to bytes.
#pragma once

#include <cstdint>
#include <memory>
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

class ByteBpe;  // text/byte_bpe.h

struct Vocab {
  std::string model = "llama";          // tokenizer.ggml.model: "llama" (SPM) or "gpt2" (byte BPE)
  std::string pre;                      // tokenizer.ggml.pre ("llama-bpe", "gpt-2"; gpt2 only)
  std::vector<std::string> pieces;      // [n_vocab] pieces: SPM writes spaces as U+2581, byte
                                        // BPE every byte as one character (' ' as U+0120)
  std::vector<std::string> merges;      // [n_merges] "LEFT RIGHT", highest priority first (gpt2)
  std::vector<float> scores;            // [n_vocab] merge priority (higher merges first)
  std::vector<TokenType> types;         // [n_vocab]
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  int32_t eot_id = -1;                  // end of turn (tokenizer.ggml.eot_token_id or found by
                                        // text, e.g. <|eot_id|>); -1: none
  int32_t eom_id = -1;                  // end of message (tokenizer.ggml.eom_token_id); -1: none
  // Every id that ends generation (eos, eot, eom and known end-of-turn texts), sorted; filled by
  // the loaders (find_end_of_generation_ids). Empty: only eos_id does.
  std::vector<int32_t> eog_ids;
  bool add_bos = true;                  // tokenizer.ggml.add_bos_token
  bool add_space_prefix = true;         // tokenizer.ggml.add_space_prefix
  // Byte-level BPE tables built (and checked) from pieces/merges by the GGUF loader, so that
  // each Tokenizer does not build them again (~0.2 s for Llama 3). Null: the Tokenizer builds
  // them. Reset it after changing pieces or merges.
  std::shared_ptr<const ByteBpe> byte_bpe;

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
  bool empty() const { return pieces.empty(); }
  bool byte_level() const { return model == "gpt2"; }
};

// Reads a llama2.c tokenizer.bin for a model with n_vocab tokens into `out` (pieces converted to
// the GGUF convention: ' ' -> U+2581, <0xNN> pieces typed as Byte, ids 0/1/2 as unk/bos/eos).
Status load_llama2c_tokenizer(const std::string& path, int32_t n_vocab, Vocab& out);

class Tokenizer {
 public:
  Tokenizer() = default;
  explicit Tokenizer(const Vocab& vocab);

  // Text to ids. Adds BOS first when add_bos is true. Special-token text such as "<s>" or
  // "<|eot_id|>" in the input is plain text unless parse_special is true, when the texts of
  // control and user-defined tokens become those tokens (llama.cpp's parse_special; for chat
  // prompts rendered by a template, never for user text). Byte-level vocabularies always cut
  // user-defined tokens out, as llama.cpp and Hugging Face do.
  std::vector<int32_t> encode(const std::string& text, bool add_bos,
                              bool parse_special = false) const;

  // The id of the token whose text is exactly `token_text` (as written in the vocabulary, e.g.
  // "<|eot_id|>"), -1 when none.
  int32_t token_id(const std::string& token_text) const;

  // True for every id that ends generation (Vocab::eog_ids, or eos_id when that is empty).
  bool is_eog(int32_t id) const;

  // The bytes a token stands for: U+2581 -> ' ', <0xNN> -> that byte, user-defined pieces
  // verbatim; control, unknown and unused tokens and out-of-range ids -> "" (as llama.cpp
  // renders them without `special`, the mode of the golden continuations).
  std::string piece_bytes(int32_t id) const;
  // The same, except that with `special` control (and unknown) tokens give their text
  // ("<|eot_id|>"), as llama.cpp's token_to_piece with special=true.
  std::string piece_bytes(int32_t id, bool special) const;

  // Text for a whole sequence of ids: the concatenated piece_bytes, dropping the space prefix of
  // the first piece after a BOS at ids[0] (so decode(encode(t, true)) == t). Without a leading
  // BOS nothing is dropped, so a continuation decodes with its leading space.
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string decode(const std::vector<int32_t>& ids, bool special) const;

  const Vocab& vocab() const { return *vocab_; }

 private:
  void encode_spm(const std::string& text, bool space_prefix, std::vector<int32_t>& ids) const;

  const Vocab* vocab_ = nullptr;                            // must outlive the Tokenizer
  std::unordered_map<std::string, int32_t> piece_to_id_;   // SPM: pieces text can produce (no
                                                           // control/unknown/byte tokens)
  std::vector<int32_t> unreachable_ids_;                   // SPM: the other tokens (token_id)
  int32_t byte_ids_[256] = {};                             // SPM: <0xNN> token per byte, -1
  std::shared_ptr<const ByteBpe> byte_bpe_;                // byte-level vocabularies only
  std::vector<int32_t> specials_;                          // special_token_order(vocab)
};

// Turns a stream of token ids into text that never splits a UTF-8 sequence: bytes of an
// incomplete character are held back until the rest arrives (or flush() gives them up).
class StreamDecoder {
 public:
  // With `special`, control tokens print their text (see Tokenizer::piece_bytes).
  explicit StreamDecoder(const Tokenizer& tokenizer, bool special = false)
      : tokenizer_(&tokenizer), special_(special) {}
  // Returns the bytes that now form complete characters. `prev` is the token before `id` (-1
  // when none); it does not change the output: a piece after BOS keeps its leading space, as
  // the reference continuations (golden aidreams260K.p4, synth-tiny-BF16.p1) and llama.cpp do.
  // Bytes that can never complete a character are passed through at once.
  std::string push(int32_t prev, int32_t id);
  // Returns (and forgets) the held-back bytes of an incomplete final character.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool special_ = false;
  std::string pending_;
};

}  // namespace loam
