// Tokenizer: text <-> ids. SentencePiece ("llama") vocabularies follow llama.cpp's
// llm_tokenizer_spm (which reproduces SentencePiece for LLaMA 1/2 vocabularies); byte-level
// ("gpt2") ones go through ByteBpe. Special-token splitting is shared by both.
#include "loam/tokenizer.h"

#include <algorithm>

#include "text/byte_bpe.h"
#include "text/special_tokens.h"
#include "text/spm_bpe.h"

namespace loam {

namespace {

const char kSpaceMarker[] = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, 3 bytes
constexpr size_t kSpaceMarkerSize = 3;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The byte of a "<0xNN>" piece, or -1.
int byte_piece_value(const std::string& p) {
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  const int hi = hex_value(p[3]), lo = hex_value(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Token kinds that plain text can turn into. Control, Unknown and Byte pieces are only ever
// produced by the tokenizer itself (BOS, byte fallback), as in SentencePiece.
bool reachable_from_text(TokenType t) {
  return t != TokenType::Control && t != TokenType::Unknown && t != TokenType::Byte;
}

std::string unescape_spaces(const std::string& piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpaceMarkerSize, kSpaceMarker) == 0) {
      out += ' ';
      i += kSpaceMarkerSize;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

}  // namespace

Tokenizer::Tokenizer(const Vocab& vocab) : vocab_(&vocab) {
  for (int32_t& id : byte_ids_) id = -1;
  specials_ = special_token_order(vocab);
  if (vocab.byte_level()) {
    byte_bpe_ = vocab.byte_bpe ? vocab.byte_bpe : std::make_shared<const ByteBpe>(vocab);
    return;
  }
  const int32_t n = vocab.size();
  piece_to_id_.reserve(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    const TokenType type = id < static_cast<int32_t>(vocab.types.size()) ? vocab.types[id]
                                                                          : TokenType::Normal;
    if (type == TokenType::Byte) {
      const int b = byte_piece_value(vocab.pieces[id]);
      if (b >= 0 && byte_ids_[b] < 0) byte_ids_[b] = id;
    }
    if (reachable_from_text(type)) {
      piece_to_id_.emplace(vocab.pieces[id], id);  // the first of duplicate pieces wins
    } else {
      unreachable_ids_.push_back(id);
    }
  }
}

int32_t Tokenizer::token_id(const std::string& token_text) const {
  if (vocab_ == nullptr) return -1;
  if (byte_bpe_) return byte_bpe_->find(token_text);
  // Of duplicate texts the lowest id wins, whichever table holds it.
  int32_t best = -1;
  if (const auto it = piece_to_id_.find(token_text); it != piece_to_id_.end()) best = it->second;
  for (int32_t id : unreachable_ids_) {
    if (best >= 0 && id > best) break;
    if (vocab_->pieces[static_cast<size_t>(id)] == token_text) return id;
  }
  return best;
}

bool Tokenizer::is_eog(int32_t id) const {
  if (vocab_ == nullptr || id < 0) return false;
  if (vocab_->eog_ids.empty()) return id == vocab_->eos_id;
  return std::binary_search(vocab_->eog_ids.begin(), vocab_->eog_ids.end(), id);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> ids;
  if (vocab_ == nullptr) return ids;
  const Vocab& v = *vocab_;
  if (add_bos && v.bos_id >= 0 && v.bos_id < v.size()) ids.push_back(v.bos_id);
  // Empty text gets no space prefix: "" encodes to nothing (SentencePiece does the same).
  if (text.empty()) return ids;

  if (!byte_bpe_ && !parse_special) {
    // SentencePiece without parse_special: the whole text is one fragment, user-defined pieces
    // included (they merge like any piece).
    encode_spm(text, v.add_space_prefix, ids);
    return ids;
  }
  std::vector<TextFragment> fragments;
  split_special_tokens(text, v, specials_, parse_special, fragments);
  // SentencePiece puts the space prefix on the first text and on each text after a special
  // token, as llama.cpp does for SPM vocabularies.
  bool after_special = true;
  for (const TextFragment& f : fragments) {
    if (f.id >= 0) {
      ids.push_back(f.id);
      after_special = true;
      continue;
    }
    const std::string part = text.substr(f.begin, f.end - f.begin);
    if (byte_bpe_) {
      byte_bpe_->encode(part, ids);
    } else {
      encode_spm(part, v.add_space_prefix && after_special, ids);
    }
    after_special = false;
  }
  return ids;
}

void Tokenizer::encode_spm(const std::string& text, bool space_prefix,
                           std::vector<int32_t>& ids) const {
  const Vocab& v = *vocab_;
  // Only ' ' becomes U+2581; tabs and newlines stay as they are (they are pieces or bytes).
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 2 + kSpaceMarkerSize);
  if (space_prefix) escaped += kSpaceMarker;
  for (char c : text) {
    if (c == ' ') {
      escaped += kSpaceMarker;
    } else {
      escaped += c;
    }
  }

  SpmTables tables;
  tables.piece_to_id = &piece_to_id_;
  tables.scores = &v.scores;
  tables.byte_ids = byte_ids_;
  tables.unk_id = v.unk_id >= 0 && v.unk_id < v.size() ? v.unk_id : -1;
  spm_encode(escaped, tables, ids);
}

std::string Tokenizer::piece_bytes(int32_t id) const { return piece_bytes(id, false); }

std::string Tokenizer::piece_bytes(int32_t id, bool special) const {
  if (vocab_ == nullptr || id < 0 || id >= vocab_->size()) return "";
  const std::string& piece = vocab_->pieces[id];
  const TokenType type =
      id < static_cast<int32_t>(vocab_->types.size()) ? vocab_->types[id] : TokenType::Normal;
  switch (type) {
    case TokenType::Normal:
    case TokenType::Undefined:
      return byte_bpe_ ? byte_level::decode(piece) : unescape_spaces(piece);
    case TokenType::Byte: {
      const int b = byte_piece_value(piece);
      return b < 0 ? std::string() : std::string(1, static_cast<char>(b));
    }
    case TokenType::UserDefined:
      // llama.cpp copies user-defined pieces verbatim (no U+2581 or byte-level unescaping).
      return piece;
    case TokenType::Control:
    case TokenType::Unknown:
      // Without `special`, what llama.cpp prints with special=false, the mode the golden
      // continuations were made in (a BOS generated mid-text renders as nothing there).
      return special ? piece : "";
    case TokenType::Unused:
      return "";
  }
  return "";
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const { return decode(ids, false); }

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
  std::string text;
  if (vocab_ == nullptr) return text;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = piece_bytes(ids[i], special);
    // The space encode() put in front of the text: removed again only right after a leading
    // BOS, so decode(encode(text, true)) == text. A sequence without BOS (a continuation) keeps
    // its leading space, as the reference continuations do.
    // Byte-level vocabularies add no space, so they never drop one.
    if (i == 1 && !byte_bpe_ && ids[0] == vocab_->bos_id && vocab_->add_space_prefix &&
        !piece.empty() &&
        piece[0] == ' ') {
      piece.erase(0, 1);
    }
    text += piece;
  }
  return text;
}

}  // namespace loam
