// Vocabulary from GGUF tokenizer.ggml.* keys.

#include "loam/gguf.h"
#include "text/byte_bpe.h"
#include "text/special_tokens.h"

namespace loam {

namespace {

// Reads an optional token id key, which must name a token of the vocabulary.
Status read_token_id(const GgufFile& file, const std::string& key, size_t n_vocab,
                     int32_t& id) {
  int64_t v = id;
  bool found = false;
  LOAM_TRY(file.get_int_opt(key, v, &found));
  if (!found) return Status::ok();
  if (v < 0 || static_cast<uint64_t>(v) >= n_vocab) {
    return Status::error(file.path() + ": key '" + key + "' is " + std::to_string(v) +
                         ", outside the vocabulary of " + std::to_string(n_vocab) + " tokens");
  }
  id = static_cast<int32_t>(v);
  return Status::ok();
}

// Refuses an array key whose length is not the vocabulary size before it is converted (an
// array of u8 token types would take 8 times its file bytes as int64).
Status check_per_token(const GgufFile& file, const std::string& key, size_t n_tokens) {
  const GgufValue* v = file.find(key);
  if (v == nullptr || !v->is_array() || v->count == n_tokens) return Status::ok();
  return Status::error(file.path() + ": key '" + key + "' has " + std::to_string(v->count) +
                       " entries for " + std::to_string(n_tokens) + " tokens");
}

// Far above any real vocabulary (the largest are ~256K); the same bound as llama.vocab_size.
constexpr uint64_t kMaxTokens = 1 << 22;

}  // namespace

Status load_vocab_from_gguf(const GgufFile& file, Vocab& out) {
  Vocab vocab;
  LOAM_TRY(file.get_string_opt("tokenizer.ggml.model", vocab.model));
  if (vocab.model != "llama" && vocab.model != "gpt2") {
    return Status::error(file.path() + ": key 'tokenizer.ggml.model' is '" + vocab.model +
                         "': only 'llama' (SentencePiece) and 'gpt2' (byte-level BPE) "
                         "vocabularies are supported");
  }
  if (const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
      tokens != nullptr && tokens->is_array() && tokens->count > kMaxTokens) {
    return Status::error(file.path() + ": key 'tokenizer.ggml.tokens' has " +
                         std::to_string(tokens->count) + " tokens, more than " +
                         std::to_string(kMaxTokens));
  }
  LOAM_TRY(file.get_string_array("tokenizer.ggml.tokens", vocab.pieces));
  const size_t n = vocab.pieces.size();
  if (n == 0) return Status::error(file.path() + ": key 'tokenizer.ggml.tokens' is empty");
  LOAM_TRY(check_per_token(file, "tokenizer.ggml.scores", n));
  LOAM_TRY(check_per_token(file, "tokenizer.ggml.token_type", n));

  if (file.has("tokenizer.ggml.scores")) {
    LOAM_TRY(file.get_float_array("tokenizer.ggml.scores", vocab.scores));
    if (vocab.scores.size() != n) {
      return Status::error(file.path() + ": key 'tokenizer.ggml.scores' has " +
                           std::to_string(vocab.scores.size()) + " entries for " +
                           std::to_string(n) + " tokens");
    }
  } else {
    vocab.scores.assign(n, 0.0f);
  }

  vocab.types.assign(n, TokenType::Normal);
  if (file.has("tokenizer.ggml.token_type")) {
    std::vector<int64_t> types;
    LOAM_TRY(file.get_int_array("tokenizer.ggml.token_type", types));
    if (types.size() != n) {
      return Status::error(file.path() + ": key 'tokenizer.ggml.token_type' has " +
                           std::to_string(types.size()) + " entries for " + std::to_string(n) +
                           " tokens");
    }
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int64_t>(TokenType::Byte)) {
        return Status::error(file.path() + ": key 'tokenizer.ggml.token_type' entry " +
                             std::to_string(i) + " is " + std::to_string(types[i]) +
                             ", not a token type (0..6)");
      }
      vocab.types[i] = static_cast<TokenType>(types[i]);
    }
  }

  LOAM_TRY(read_token_id(file, "tokenizer.ggml.bos_token_id", n, vocab.bos_id));
  LOAM_TRY(read_token_id(file, "tokenizer.ggml.eos_token_id", n, vocab.eos_id));
  LOAM_TRY(read_token_id(file, "tokenizer.ggml.unknown_token_id", n, vocab.unk_id));
  LOAM_TRY(read_token_id(file, "tokenizer.ggml.eot_token_id", n, vocab.eot_id));
  LOAM_TRY(read_token_id(file, "tokenizer.ggml.eom_token_id", n, vocab.eom_id));
  LOAM_TRY(file.get_bool_opt("tokenizer.ggml.add_bos_token", vocab.add_bos));
  // Byte-level BPE has no space prefix (spaces are part of the tokens).
  vocab.add_space_prefix = !vocab.byte_level();
  LOAM_TRY(file.get_bool_opt("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix));
  if (vocab.byte_level()) {
    if (vocab.unk_id >= 0 && !file.has("tokenizer.ggml.unknown_token_id")) vocab.unk_id = -1;
    LOAM_TRY(file.get_string_opt("tokenizer.ggml.pre", vocab.pre));
    if (file.has("tokenizer.ggml.merges")) {
      LOAM_TRY(file.get_string_array("tokenizer.ggml.merges", vocab.merges));
    }
    LOAM_TRY(ByteBpe::build(vocab, file.path(), vocab.byte_bpe));
  }
  find_end_of_generation_ids(vocab);
  out = std::move(vocab);
  return Status::ok();
}

Status load_gguf_vocab(const std::string& path, Vocab& out) {
  GgufFile file;
  LOAM_TRY(GgufFile::open(path, file));
  return load_vocab_from_gguf(file, out);
}

}  // namespace loam
