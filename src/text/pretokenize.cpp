// The llama-bpe, gpt-2 and smollm splits (see pretokenize.h), as hand-written scanners over the
// text's characters. Each function below answers "how long is the match of this alternative at
// position i", trying the alternatives in the regex's order, as a backtracking engine would.
#include "text/pretokenize.h"

#include <cstdint>

#include "text/unicode_tables.h"
#include "text/utf8.h"

namespace loam {

namespace {

// Class bits of one character.
enum : uint8_t {
  kLetter = 1,   // \p{L}
  kNumber = 2,   // \p{N}
  kSpace = 4,    // \s (White_Space)
  kNewline = 8,  // \r or \n (also kSpace)
};

struct Char {
  uint32_t cp;    // code point; kInvalid for a byte that is not well-formed UTF-8
  uint8_t cls;    // class bits
  size_t offset;  // byte offset in the text
};

constexpr uint32_t kInvalid = 0xFFFFFFFF;

uint8_t classify(uint32_t cp) {
  if (cp == kInvalid) return 0;
  if (cp == '\r' || cp == '\n') return kSpace | kNewline;
  if (unicode::is_whitespace(cp)) return kSpace;
  switch (unicode::category(cp)) {
    case unicode::Category::L: return kLetter;
    case unicode::Category::N: return kNumber;
    default: return 0;
  }
}

// Strict UTF-8 decoding: a malformed sequence yields its first byte as one kInvalid character
// and decoding resumes at the next byte.
void decode_chars(const std::string& text, std::vector<Char>& out) {
  out.clear();
  out.reserve(text.size());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const size_t len = utf8::strict_sequence_length(lead);
    bool ok = len > 0 && i + len <= n;
    if (ok && len >= 2) ok = utf8::second_byte_ok(lead, static_cast<uint8_t>(text[i + 1]));
    for (size_t k = 2; ok && k < len; ++k) {
      ok = utf8::is_continuation(static_cast<uint8_t>(text[i + k]));
    }
    if (!ok) {
      out.push_back({kInvalid, 0, i});
      ++i;
      continue;
    }
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    out.push_back({cp, classify(cp), i});
    i += len;
  }
}

class Scanner {
 public:
  // Sees chars[0, end) only: past `end` every test fails as at the end of the text (smollm
  // runs the gpt-2 regex on each stretch between digits as if it were the whole text).
  Scanner(const std::vector<Char>& chars, size_t end) : c_(chars), n_(end) {}

  size_t size() const { return n_; }
  uint32_t cp(size_t i) const { return i < n_ ? c_[i].cp : kInvalid; }
  bool has(size_t i, uint8_t bits) const { return i < n_ && (c_[i].cls & bits) != 0; }
  bool letter(size_t i) const { return has(i, kLetter); }
  bool number(size_t i) const { return has(i, kNumber); }
  bool space(size_t i) const { return has(i, kSpace); }
  bool newline(size_t i) const { return has(i, kNewline); }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return i < n_ && (c_[i].cls & (kLetter | kNumber | kSpace)) == 0; }

  // 's|'t|'re|'ve|'m|'ll|'d, ASCII case folded when `fold` ((?i:...) in Llama 3).
  size_t contraction(size_t i, bool fold) const {
    if (cp(i) != '\'') return 0;
    const uint32_t a = lower(cp(i + 1), fold), b = lower(cp(i + 2), fold);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // Length of the run of characters from i that satisfy `pred`.
  template <typename Pred>
  size_t run(size_t i, Pred pred) const {
    size_t j = i;
    while (j < n_ && pred(j)) ++j;
    return j - i;
  }

  // \s+(?!\S)|\s+ at a whitespace character: a run followed by a non-space character leaves
  // its last character to start the next word (" word" stays together); at the end of the text
  // the run is taken whole.
  size_t trailing_space(size_t i) const {
    const size_t w = run(i, [this](size_t k) { return space(k); });
    return (i + w < n_ && w > 1) ? w - 1 : w;
  }

 private:
  static uint32_t lower(uint32_t c, bool fold) {
    return fold && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
  }

  const std::vector<Char>& c_;
  size_t n_;
};

// Length of the llama-bpe match at i (i < size).
size_t match_llama3(const Scanner& s, size_t i) {
  if (size_t len = s.contraction(i, true)) return len;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (s.letter(i)) return 1 + s.run(i + 1, [&s](size_t k) { return s.letter(k); });
  if (!s.newline(i) && !s.number(i) && s.letter(i + 1)) {
    return 2 + s.run(i + 2, [&s](size_t k) { return s.letter(k); });
  }
  // \p{N}{1,3}
  if (s.number(i)) {
    size_t len = 1;
    while (len < 3 && s.number(i + len)) ++len;
    return len;
  }
  // ' '?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t lead = s.cp(i) == ' ' && s.other(i + 1) ? 1 : 0;
  if (s.other(i + lead)) {
    size_t end = i + lead + s.run(i + lead, [&s](size_t k) { return s.other(k); });
    end += s.run(end, [&s](size_t k) { return s.newline(k); });
    return end - i;
  }
  // Here i is whitespace. \s*[\r\n]+: up to the last newline of the whitespace run.
  const size_t w = s.run(i, [&s](size_t k) { return s.space(k); });
  size_t last_newline_end = 0;
  for (size_t k = i; k < i + w; ++k) {
    if (s.newline(k)) last_newline_end = k + 1;
  }
  if (last_newline_end > 0) return last_newline_end - i;
  return s.trailing_space(i);
}

// Length of the gpt-2 match at i (i < size).
size_t match_gpt2(const Scanner& s, size_t i) {
  if (size_t len = s.contraction(i, false)) return len;
  const size_t lead = s.cp(i) == ' ' ? 1 : 0;
  // ' '?\p{L}+ | ' '?\p{N}+ | ' '?[^\s\p{L}\p{N}]+
  if (s.letter(i + lead)) return lead + s.run(i + lead, [&s](size_t k) { return s.letter(k); });
  if (s.number(i + lead)) return lead + s.run(i + lead, [&s](size_t k) { return s.number(k); });
  if (s.other(i + lead)) return lead + s.run(i + lead, [&s](size_t k) { return s.other(k); });
  return s.trailing_space(i);
}

}  // namespace

Status pre_tokenizer_from_name(const std::string& name, PreTokenizer& out) {
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") {
    out = PreTokenizer::Llama3;
  } else if (name == "gpt-2") {
    out = PreTokenizer::Gpt2;
  } else if (name == "smollm") {
    out = PreTokenizer::SmolLm;
  } else {
    return Status::error("pre-tokenizer '" + name +
                         "' is not supported (supported: 'llama-bpe' for Llama 3, 'gpt-2', "
                         "'smollm' for SmolLM)");
  }
  return Status::ok();
}

void pre_tokenize(const std::string& text, PreTokenizer kind,
                  std::vector<std::pair<size_t, size_t>>& words) {
  std::vector<Char> chars;
  decode_chars(text, chars);
  const size_t n = chars.size();
  // Appends the characters [i, end) as one word.
  auto emit = [&](size_t i, size_t end) {
    words.emplace_back(chars[i].offset, end < n ? chars[end].offset : text.size());
  };
  // Cuts chars [i, end) with `match` run by a scanner that sees nothing past `end`.
  auto split_range = [&](size_t i, size_t end, size_t (*match)(const Scanner&, size_t)) {
    const Scanner scanner(chars, end);
    while (i < end) {
      size_t len = match(scanner, i);
      if (len == 0) len = 1;  // cannot happen (every character is matched); never loop forever
      emit(i, i + len);
      i += len;
    }
  };
  switch (kind) {
    case PreTokenizer::Llama3: split_range(0, n, match_llama3); break;
    case PreTokenizer::Gpt2: split_range(0, n, match_gpt2); break;
    case PreTokenizer::SmolLm: {
      const Scanner whole(chars, n);
      for (size_t i = 0; i < n;) {
        if (whole.number(i)) {  // each digit alone
          emit(i, i + 1);
          ++i;
          continue;
        }
        const size_t end = i + whole.run(i, [&whole](size_t k) { return !whole.number(k); });
        split_range(i, end, match_gpt2);
        i = end;
      }
      break;
    }
  }
}

}  // namespace loam
