// The smollm pre-tokenizer (SmolLM, SmolLM2): every \p{N} character is a word of its own, then
// the gpt-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// cuts each stretch between those digits as if it were the whole text. No shared vectors exist
// for it, so every expected split and id below is worked out by hand from those two rules (and
// from the merge ranks of the small vocabulary built here), never taken from the code.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_writer.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/tokenizer.h"
#include "text/byte_bpe.h"
#include "text/pretokenize.h"

using loam::PreTokenizer;
using loam::Status;
using loam::Tokenizer;
using loam::TokenType;
using loam::Vocab;
using Ids = std::vector<int32_t>;
using Words = std::vector<std::string>;

namespace {

std::string ids_str(const Ids& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return "[" + s + "]";
}

std::string words_str(const Words& w) {
  std::string s;
  for (const std::string& x : w) s += (s.empty() ? "" : "|") + x;
  return "[" + s + "]";
}

Words split(const std::string& text) {
  std::vector<std::pair<size_t, size_t>> ranges;
  loam::pre_tokenize(text, PreTokenizer::SmolLm, ranges);
  Words words;
  for (const auto& [b, e] : ranges) words.push_back(text.substr(b, e - b));
  return words;
}

#define CHECK_SMOLLM_SPLIT(text, ...)                                                     \
  do {                                                                                    \
    const Words got_ = split(text), want_ = Words{__VA_ARGS__};                           \
    if (got_ != want_) {                                                                  \
      loam_test::record_failure(__FILE__, __LINE__,                                       \
                                "split: got " + words_str(got_) + " want " + words_str(want_)); \
    }                                                                                     \
  } while (0)

// The byte-level text of a plain string.
std::string bl(const std::string& s) { return loam::byte_level::encode(s.data(), s.size()); }

// Ids 0..255 are the 256 byte characters (id == byte value), then
//   256 "12"  257 " 1"  258 "he"  259 "ll"  260 "hell"  261 "hello"  262 " hello"
//   263 " hell" (no merge makes it)  264 "<|endoftext|>" control
// merges, rank order: "1 2", "Ġ 1", "h e", "l l", "he ll", "hell o", "Ġ hello".
Vocab digits_vocab(const std::string& pre) {
  Vocab v;
  v.model = "gpt2";
  v.pre = pre;
  for (int b = 0; b < 256; ++b) v.pieces.push_back(bl(std::string(1, static_cast<char>(b))));
  for (const char* p : {"12", " 1", "he", "ll", "hell", "hello", " hello", " hell"}) {
    v.pieces.push_back(bl(p));
  }
  v.pieces.push_back("<|endoftext|>");
  v.types.assign(v.pieces.size(), TokenType::Normal);
  v.types[264] = TokenType::Control;
  v.scores.assign(v.pieces.size(), 0.0f);
  v.merges = {"1 2", bl(" ") + " 1", "h e", "l l", "he ll", "hell o", bl(" ") + " hello"};
  v.bos_id = 264;
  v.eos_id = 264;
  v.unk_id = -1;
  v.add_bos = false;
  v.add_space_prefix = false;
  return v;
}

}  // namespace

TEST_CASE("smollm_splits_digits_one_per_word") {
  CHECK_SMOLLM_SPLIT("1234567", "1", "2", "3", "4", "5", "6", "7");
  // The space before "89" is a stretch of its own, whole: no " 8" word as in gpt-2.
  CHECK_SMOLLM_SPLIT("1234567 89", "1", "2", "3", "4", "5", "6", "7", " ", "8", "9");
  CHECK_SMOLLM_SPLIT("x 12", "x", " ", "1", "2");
  CHECK_SMOLLM_SPLIT("abc123def", "abc", "1", "2", "3", "def");
  CHECK_SMOLLM_SPLIT("$100", "$", "1", "0", "0");
  CHECK_SMOLLM_SPLIT("v1.2", "v", "1", ".", "2");
  CHECK_SMOLLM_SPLIT("3.14", "3", ".", "1", "4");
  CHECK_SMOLLM_SPLIT(" (1)", " (", "1", ")");
  // A space run that ends a stretch (before a digit) is whole, as at the end of the text; the
  // run before a letter leaves its last space to the word.
  CHECK_SMOLLM_SPLIT("a  1", "a", "  ", "1");
  CHECK_SMOLLM_SPLIT("a 1 b", "a", " ", "1", " b");
  CHECK_SMOLLM_SPLIT("1  b", "1", " ", " b");
  // Numbers outside ASCII are \p{N} too: superscript two (No), Arabic-Indic digits (Nd).
  CHECK_SMOLLM_SPLIT("x\xC2\xB2", "x", "\xC2\xB2");
  CHECK_SMOLLM_SPLIT("\xD9\xA3\xD9\xA4", "\xD9\xA3", "\xD9\xA4");
}

TEST_CASE("smollm_splits_like_gpt2_between_digits") {
  CHECK_SMOLLM_SPLIT("Hello world", "Hello", " world");
  // Contractions are case-sensitive, as in gpt-2: "'RE" is punctuation then letters.
  CHECK_SMOLLM_SPLIT("I'm you'RE", "I", "'m", " you", "'", "RE");
  CHECK_SMOLLM_SPLIT("don't", "don", "'t");
  // A digit ends the stretch, so "'" before it has no letter to form a contraction with.
  CHECK_SMOLLM_SPLIT("I'll 2's '1", "I", "'ll", " ", "2", "'s", " '", "1");
  // Whitespace: a run before a word leaves its last character; newlines are plain whitespace.
  CHECK_SMOLLM_SPLIT("  hi", " ", " hi");
  CHECK_SMOLLM_SPLIT("a\n\nb", "a", "\n", "\n", "b");
  CHECK_SMOLLM_SPLIT("hi!!\n\nok", "hi", "!!", "\n", "\n", "ok");
  CHECK_SMOLLM_SPLIT("end   ", "end", "   ");
  CHECK_SMOLLM_SPLIT("(hello)", "(", "hello", ")");
  CHECK_SMOLLM_SPLIT(" ?!", " ?!");
  // Non-ASCII letters: 'é', 'ï' and CJK ideographs are \p{L}; U+3000 is whitespace but not
  // ' ', so it cannot lead a word.
  CHECK_SMOLLM_SPLIT("na\xC3\xAFve caf\xC3\xA9", "na\xC3\xAFve", " caf\xC3\xA9");
  CHECK_SMOLLM_SPLIT("\xE6\x97\xA5\xE6\x9C\xAC 2", "\xE6\x97\xA5\xE6\x9C\xAC", " ", "2");
  CHECK_SMOLLM_SPLIT("a\xE3\x80\x80" "b", "a", "\xE3\x80\x80", "b");
  // Bytes that are not UTF-8 are kept, as punctuation (Loam's rule for all pre-tokenizers).
  CHECK_SMOLLM_SPLIT("a\xFF\xFE" "b", "a", "\xFF\xFE", "b");
  CHECK_SMOLLM_SPLIT("\xFF" "7", "\xFF", "7");
  CHECK_SMOLLM_SPLIT("");
}

TEST_CASE("smollm_pre_tokenizer_name") {
  PreTokenizer p = PreTokenizer::Gpt2;
  CHECK(loam::pre_tokenizer_from_name("smollm", p).is_ok());
  CHECK(p == PreTokenizer::SmolLm);
  // Names are exact: llama.cpp knows no "SmolLM" or "smollm2".
  for (const char* bad : {"SmolLM", "smollm2", "smol"}) {
    const Status s = loam::pre_tokenizer_from_name(bad, p);
    CHECK(!s.is_ok());
    for (const char* listed : {"'llama-bpe'", "'gpt-2'", "'smollm'"}) {  // the supported names
      CHECK(s.message().find(listed) != std::string::npos);
    }
  }
}

TEST_CASE("smollm_encode_end_to_end") {
  const Vocab v = digits_vocab("smollm");
  std::shared_ptr<const loam::ByteBpe> checked;
  REQUIRE(loam::ByteBpe::build(v, "digits", checked).is_ok());  // the name is accepted
  const Tokenizer tok(v);
  // "12" is two words, so the rank-0 merge "1 2" never applies.
  CHECK_EQ(ids_str(tok.encode("12", false)), ids_str({'1', '2'}));
  CHECK_EQ(ids_str(tok.encode(" 12", false)), ids_str({' ', '1', '2'}));
  // "hello": he, ll, hell, hello (ranks 2, 3, 4, 5); then " ", 2, 0, 2, 4 one byte each.
  CHECK_EQ(ids_str(tok.encode("hello 2024", false)), ids_str({261, ' ', '2', '0', '2', '4'}));
  // " hello": Ġ h e l l o -> Ġ hello -> " hello" (rank 6).
  CHECK_EQ(ids_str(tok.encode(" hello", false)), ids_str({262}));
  // No whole-word lookup (llama-bpe's ignore_merges): " hell" is Ġ + hell, not token 263.
  CHECK_EQ(ids_str(tok.encode(" hell", false)), ids_str({' ', 260}));
  CHECK_EQ(ids_str(tok.encode("<|endoftext|>1", false, true)), ids_str({264, '1'}));
  for (const std::string& t :
       {std::string("x 12 hello 2024\n\n"), std::string("caf\xC3\xA9 \xD9\xA3 \xFF 9")}) {
    CHECK_EQ(tok.decode(tok.encode(t, false)), t);
  }

  // The same vocabulary under gpt-2 keeps digits together, so the merges apply: the difference
  // shows the smollm result above is not gpt-2's.
  const Vocab g = digits_vocab("gpt-2");
  const Tokenizer gpt2(g);
  CHECK_EQ(ids_str(gpt2.encode("12", false)), ids_str({256}));
  // " 12": Ġ 1 2, rank 0 "1 2" first, then "Ġ 1" no longer applies.
  CHECK_EQ(ids_str(gpt2.encode(" 12", false)), ids_str({' ', 256}));
  // And under llama-bpe " hell" is looked up whole.
  const Vocab l = digits_vocab("llama-bpe");
  const Tokenizer llama(l);
  CHECK_EQ(ids_str(llama.encode(" hell", false)), ids_str({263}));
}

TEST_CASE("smollm_vocab_file_loads") {
  // A GGUF file declaring tokenizer.ggml.pre = smollm loads (it was refused before) and
  // tokenizes digits one by one.
  using loam::GgufValue;
  const Vocab src = digits_vocab("smollm");
  loam::GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::make_string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::make_string("smollm"));
  w.set("tokenizer.ggml.tokens", GgufValue::make_string_array(src.pieces));
  std::vector<int32_t> types(src.pieces.size(), 1);
  types[264] = 3;  // control
  w.set("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
  w.set("tokenizer.ggml.merges", GgufValue::make_string_array(src.merges));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::make_u32(264));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::make_u32(264));
  const std::string path = loam_test::temp_dir() + "/smollm_vocab.gguf";
  REQUIRE(w.write(path).is_ok());
  Vocab v;
  const Status s = loam::load_gguf_vocab(path, v);
  REQUIRE(s.is_ok());
  CHECK_EQ(v.pre, std::string("smollm"));
  const Tokenizer tok(v);
  CHECK_EQ(ids_str(tok.encode("hello 12", false)), ids_str({261, ' ', '1', '2'}));
}
