// Byte-level BPE: the byte <-> character map, the merge table and the per-word merge loop.
#include "text/byte_bpe.h"

#include <queue>

#include "text/utf8.h"

namespace loam {

namespace byte_level {

namespace {

constexpr uint32_t kMappedEnd = 256 + 68;  // the 68 remapped bytes take U+0100..U+0143

struct ByteMap {
  uint32_t to_cp[256];
  int16_t to_byte[kMappedEnd];  // -1: not a byte-level character
  ByteMap() {
    for (int16_t& b : to_byte) b = -1;
    // Printable bytes keep their code point; the rest are numbered from U+0100 in byte order.
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cp[b] = printable ? b : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

uint32_t code_point_of_byte(uint8_t b) { return byte_map().to_cp[b]; }

int byte_of_code_point(uint32_t cp) { return cp < kMappedEnd ? byte_map().to_byte[cp] : -1; }

std::string encode(const char* bytes, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i)
    utf8::append(out, code_point_of_byte(static_cast<uint8_t>(bytes[i])));
  return out;
}

std::string decode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const size_t len = utf8::strict_sequence_length(lead);
    // Byte-level characters are at most U+0143: one or two bytes.
    if (len == 1 || len == 2) {
      if (i + len <= text.size() &&
          (len == 1 || utf8::is_continuation(static_cast<uint8_t>(text[i + 1])))) {
        const uint32_t cp =
            len == 1 ? lead : ((lead & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
        const int b = byte_of_code_point(cp);
        if (b >= 0) {
          out += static_cast<char>(b);
          i += len;
          continue;
        }
      }
    }
    // Not a byte-level character: copied through unchanged, one byte at a time.
    out += text[i++];
  }
  return out;
}

}  // namespace byte_level

namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Splits a GGUF merge "LEFT RIGHT" at its separating space (never the first character: a token
// cannot be empty). False when there is none.
bool split_merge(const std::string& merge, std::string& left, std::string& right) {
  const size_t space = merge.find(' ', 1);
  if (space == std::string::npos) return false;
  left.assign(merge, 0, space);
  right.assign(merge, space + 1, std::string::npos);
  return true;
}

bool reachable_from_text(TokenType t) {
  return t != TokenType::Control && t != TokenType::Unknown && t != TokenType::Unused;
}

}  // namespace

Status ByteBpe::build(const Vocab& vocab, const std::string& source,
                      std::shared_ptr<const ByteBpe>& out) {
  std::shared_ptr<ByteBpe> bpe(new ByteBpe());
  LOAM_TRY(bpe->init(vocab, &source));
  out = std::move(bpe);
  return Status::ok();
}

ByteBpe::ByteBpe(const Vocab& vocab) { (void)init(vocab, nullptr); }

Status ByteBpe::init(const Vocab& vocab, const std::string* source) {
  const std::string where = source ? *source + ": " : std::string();
  if (Status st = pre_tokenizer_from_name(vocab.pre, pre_); !st) {
    if (source && vocab.pre.empty()) {
      return Status::error(where +
                           "key 'tokenizer.ggml.pre' is missing: a byte-level BPE "
                           "('gpt2') vocabulary needs its pre-tokenizer ('llama-bpe', "
                           "'gpt-2' or 'smollm')");
    }
    if (source) return Status::error(where + "key 'tokenizer.ggml.pre': " + st.message());
    pre_ = PreTokenizer::Llama3;
  }
  if (source && vocab.merges.empty()) {
    return Status::error(where +
                         "key 'tokenizer.ggml.merges' is missing or empty: a byte-level "
                         "BPE ('gpt2') vocabulary needs its merges");
  }
  // Of the supported pre-tokenizers only llama-bpe looks whole words up first (as llama.cpp
  // sets ignore_merges for it alone); gpt-2 and smollm build every word by merges.
  ignore_merges_ = pre_ == PreTokenizer::Llama3;
  const int32_t n = vocab.size();
  piece_to_id_.reserve(static_cast<size_t>(n));
  reachable_.assign(static_cast<size_t>(n), true);
  for (int32_t id = 0; id < n; ++id) {
    piece_to_id_.emplace(vocab.pieces[static_cast<size_t>(id)], id);
    if (static_cast<size_t>(id) < vocab.types.size()) {
      reachable_[static_cast<size_t>(id)] =
          reachable_from_text(vocab.types[static_cast<size_t>(id)]);
    }
  }
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8::append(ch, byte_level::code_point_of_byte(static_cast<uint8_t>(b)));
    const int32_t id = find(ch);
    byte_ids_[b] = id >= 0 && reachable_[static_cast<size_t>(id)] ? id : -1;
  }
  merges_.reserve(vocab.merges.size());
  std::string left, right;
  for (size_t i = 0; i < vocab.merges.size(); ++i) {
    const std::string& m = vocab.merges[i];
    const bool split = split_merge(m, left, right);
    const int32_t l = split ? find(left) : -1, r = split ? find(right) : -1;
    const int32_t merged = l >= 0 && r >= 0 ? find(left + right) : -1;
    if (merged < 0) {
      if (source == nullptr) continue;
      const std::string entry =
          where + "key 'tokenizer.ggml.merges' entry " + std::to_string(i) + " ('" + m + "')";
      if (!split) return Status::error(entry + " is not two tokens 'LEFT RIGHT'");
      if (l < 0) return Status::error(entry + ": '" + left + "' is not a token");
      if (r < 0) return Status::error(entry + ": '" + right + "' is not a token");
      return Status::error(entry + ": the merged '" + left + right + "' is not a token");
    }
    merges_.emplace(pair_key(l, r), Merge{static_cast<int32_t>(i), merged});  // first rank wins
  }
  return Status::ok();
}

int32_t ByteBpe::find(const std::string& piece) const {
  const auto it = piece_to_id_.find(piece);
  return it == piece_to_id_.end() ? -1 : it->second;
}

const ByteBpe::Merge* ByteBpe::find_merge(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return nullptr;
  const auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void ByteBpe::encode(const std::string& text, std::vector<int32_t>& out) const {
  std::vector<std::pair<size_t, size_t>> words;
  pre_tokenize(text, pre_, words);
  for (const auto& [begin, end] : words) encode_word(text.data() + begin, end - begin, out);
}

void ByteBpe::encode_word(const char* bytes, size_t n, std::vector<int32_t>& out) const {
  if (n == 0) return;
  if (ignore_merges_ && n > 1) {
    const int32_t whole = find(byte_level::encode(bytes, n));
    if (whole >= 0 && reachable_[static_cast<size_t>(whole)]) {
      out.push_back(whole);
      return;
    }
  }
  // One symbol per byte, in a doubly linked list; the merged-away symbol gets id -2.
  struct Symbol {
    int32_t id;  // token id; -1: a byte without a token (never merges), -2: merged away
    int32_t prev, next;
  };
  std::vector<Symbol> sym(n);  // [n] symbols
  for (size_t i = 0; i < n; ++i) {
    sym[i] = {byte_ids_[static_cast<uint8_t>(bytes[i])], static_cast<int32_t>(i) - 1,
              i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  }
  // Candidate merges of adjacent symbols; one goes stale when either side has changed since it
  // was queued, which the ids stored with it reveal. O(n log n) per word.
  struct Candidate {
    int32_t rank, left, left_id, right_id;
    bool operator<(const Candidate& o) const {  // priority_queue pops the largest: invert
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto push = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = sym[static_cast<size_t>(left)].next;
    if (right < 0) return;
    const int32_t l = sym[static_cast<size_t>(left)].id, r = sym[static_cast<size_t>(right)].id;
    if (const Merge* m = find_merge(l, r)) queue.push({m->rank, left, l, r});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = sym[static_cast<size_t>(c.left)];
    if (left.id != c.left_id || left.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(left.next)];
    if (right.id != c.right_id) continue;
    left.id = find_merge(c.left_id, c.right_id)->result;
    right.id = -2;
    left.next = right.next;
    if (left.next >= 0) sym[static_cast<size_t>(left.next)].prev = c.left;
    push(left.prev);
    push(c.left);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    if (sym[static_cast<size_t>(i)].id >= 0) out.push_back(sym[static_cast<size_t>(i)].id);
  }
}

}  // namespace loam
