// Byte-level BPE on hand-made vocabularies: the GPT-2 byte map, the llama-bpe and gpt-2
// pre-tokenizer splits, merges by rank, special tokens, end-of-generation ids, streaming decode,
// round trips, and vocabulary files the loader must refuse. Every expected value below is worked
// out by hand from the published regexes and merge rules.
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_writer.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/tokenizer.h"
#include "text/byte_bpe.h"
#include "text/pretokenize.h"
#include "text/special_tokens.h"
#include "text/utf8.h"

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

Words split(const std::string& text, PreTokenizer kind) {
  std::vector<std::pair<size_t, size_t>> ranges;
  loam::pre_tokenize(text, kind, ranges);
  Words words;
  for (const auto& [b, e] : ranges) words.push_back(text.substr(b, e - b));
  return words;
}

#define CHECK_SPLIT(text, kind, ...)                                                      \
  do {                                                                                    \
    const Words got_ = split(text, kind), want_ = Words{__VA_ARGS__};                     \
    if (got_ != want_) {                                                                  \
      loam_test::record_failure(__FILE__, __LINE__,                                       \
                                "split: got " + words_str(got_) + " want " + words_str(want_)); \
    }                                                                                     \
  } while (0)

// The byte-level text of a plain string.
std::string bl(const std::string& s) { return loam::byte_level::encode(s.data(), s.size()); }

// A vocabulary whose ids 0..255 are the 256 byte characters (so id == byte value), then:
//   256 "ll"  257 "he"  258 "hell"  259 "Ġh"  260 "hello"  261 "Ġhe"  262 "Ġhell" (no merge
//   makes it)  263 "<|eot|>" control  264 "<u>" user-defined  265 "<|e" control
//   266 "<|eot_id|>" control  267 "<|end_of_text|>" control
// merges, rank order: "l l", "h e", "he ll", "Ġ h", "hell o", "Ġh e".
Vocab tiny_vocab(const std::string& pre) {
  Vocab v;
  v.model = "gpt2";
  v.pre = pre;
  for (int b = 0; b < 256; ++b) v.pieces.push_back(bl(std::string(1, static_cast<char>(b))));
  for (const char* p : {"ll", "he", "hell", " h", "hello", " he", " hell"}) {
    v.pieces.push_back(bl(p));
  }
  v.pieces.insert(v.pieces.end(), {"<|eot|>", "<u>", "<|e", "<|eot_id|>", "<|end_of_text|>"});
  v.types.assign(v.pieces.size(), TokenType::Normal);
  v.types[263] = TokenType::Control;
  v.types[264] = TokenType::UserDefined;
  v.types[265] = TokenType::Control;
  v.types[266] = TokenType::Control;
  v.types[267] = TokenType::Control;
  v.scores.assign(v.pieces.size(), 0.0f);
  v.merges = {"l l", "h e", "he ll", bl(" ") + " h", "hell o", bl(" h") + " e"};
  v.bos_id = 267;
  v.eos_id = 267;
  v.unk_id = -1;
  v.add_bos = false;
  v.add_space_prefix = false;
  return v;
}

Ids bytes_of(const std::string& s) {
  Ids ids;
  for (char c : s) ids.push_back(static_cast<uint8_t>(c));
  return ids;
}

}  // namespace

TEST_CASE("byte_map_matches_gpt2_table") {
  using namespace loam::byte_level;
  // Printable bytes keep their code point; the other 68 count up from U+0100 in byte order:
  // 0x00..0x20 -> U+0100..U+0120, 0x7F..0xA0 -> U+0121..U+0142, 0xAD -> U+0143.
  CHECK_EQ(code_point_of_byte('!'), 0x21u);
  CHECK_EQ(code_point_of_byte('~'), 0x7Eu);
  CHECK_EQ(code_point_of_byte(0x00), 0x100u);
  CHECK_EQ(code_point_of_byte('\n'), 0x10Au);
  CHECK_EQ(code_point_of_byte(' '), 0x120u);
  CHECK_EQ(code_point_of_byte(0x7F), 0x121u);
  CHECK_EQ(code_point_of_byte(0xA0), 0x142u);
  CHECK_EQ(code_point_of_byte(0xA1), 0xA1u);
  CHECK_EQ(code_point_of_byte(0xAD), 0x143u);
  CHECK_EQ(code_point_of_byte(0xFF), 0xFFu);
  CHECK_EQ(byte_of_code_point(0x143), 0xAD);
  CHECK_EQ(byte_of_code_point(0x144), -1);
  CHECK_EQ(byte_of_code_point(0x7F), -1);  // byte 0x7F is written as U+0121
  CHECK_EQ(byte_of_code_point(0x20AC), -1);
  for (int b = 0; b < 256; ++b) {
    CHECK_EQ(byte_of_code_point(code_point_of_byte(static_cast<uint8_t>(b))), b);
  }
  CHECK_EQ(bl("a b\n"), std::string("a\xC4\xA0" "b\xC4\x8A"));  // "aĠbĊ"
  CHECK_EQ(decode("a\xC4\xA0" "b\xC4\x8A"), std::string("a b\n"));
  CHECK_EQ(decode("\xC3\xA9"), std::string("\xE9"));          // 'é' stands for byte 0xE9
  CHECK_EQ(decode("\xE2\x82\xAC"), std::string("\xE2\x82\xAC"));  // '€' is no byte: kept
}

TEST_CASE("pretokenize_llama3_splits") {
  const auto L = PreTokenizer::Llama3;
  CHECK_SPLIT("Hello world", L, "Hello", " world");
  // Contractions match case-insensitively and split off the word before them.
  CHECK_SPLIT("I'm you'RE we'll", L, "I", "'m", " you", "'RE", " we", "'ll");
  // Numbers in groups of at most three digits, from the left.
  CHECK_SPLIT("1234567", L, "123", "456", "7");
  CHECK_SPLIT("x 12", L, "x", " ", "12");
  CHECK_SPLIT("$100", L, "$", "100");
  // A run of spaces leaves its last space to the word after it.
  CHECK_SPLIT("  hi", L, " ", " hi");
  CHECK_SPLIT("a   b", L, "a", "  ", " b");
  CHECK_SPLIT("end   ", L, "end", "   ");  // at the end of the text the run is whole
  // Newlines: whitespace up to the last newline of a run is one word.
  CHECK_SPLIT("a\n\nb", L, "a", "\n\n", "b");
  CHECK_SPLIT("x  \n y", L, "x", "  \n", " y");
  CHECK_SPLIT("hi!!\n\nok", L, "hi", "!!\n\n", "ok");
  // Any one non-letter, non-digit, non-newline character may lead a word.
  CHECK_SPLIT("(hello)", L, "(hello", ")");
  CHECK_SPLIT("\tx", L, "\tx");
  CHECK_SPLIT("\nx", L, "\n", "x");
  CHECK_SPLIT(" (", L, " (");
  // Non-ASCII letters and spaces: 'é' is a letter, U+3000 is whitespace.
  CHECK_SPLIT("caf\xC3\xA9 ok", L, "caf\xC3\xA9", " ok");
  CHECK_SPLIT("a\xE3\x80\x80" "b", L, "a", "\xE3\x80\x80" "b");
  // Bytes that are not UTF-8 are kept, as punctuation.
  CHECK_SPLIT("a\xFF\xFE" "b", L, "a", "\xFF\xFE", "b");
  CHECK_SPLIT("", L);
}

TEST_CASE("pretokenize_gpt2_splits") {
  const auto G = PreTokenizer::Gpt2;
  CHECK_SPLIT("Hello world", G, "Hello", " world");
  // Contractions are case-sensitive: "'RE" is punctuation then letters.
  CHECK_SPLIT("I'm you'RE", G, "I", "'m", " you", "'", "RE");
  // Digits stay together, with an optional leading space.
  CHECK_SPLIT("1234567 89", G, "1234567", " 89");
  CHECK_SPLIT("  hi", G, " ", " hi");
  // Newlines are plain whitespace: a run before a word leaves its last character.
  CHECK_SPLIT("a\n\nb", G, "a", "\n", "\n", "b");
  CHECK_SPLIT("hi!!\n\nok", G, "hi", "!!", "\n", "\n", "ok");
  CHECK_SPLIT("(hello)", G, "(", "hello", ")");
  CHECK_SPLIT("end  ", G, "end", "  ");
  CHECK_SPLIT(" ?!", G, " ?!");
}

TEST_CASE("pre_tokenizer_names") {
  PreTokenizer p = PreTokenizer::Gpt2;
  CHECK(loam::pre_tokenizer_from_name("llama-bpe", p).is_ok());
  CHECK(p == PreTokenizer::Llama3);
  CHECK(loam::pre_tokenizer_from_name("gpt-2", p).is_ok());
  CHECK(p == PreTokenizer::Gpt2);
  const Status bad = loam::pre_tokenizer_from_name("qwen2", p);
  CHECK(!bad.is_ok());
  CHECK(bad.message().find("'qwen2'") != std::string::npos);
  CHECK(bad.message().find("llama-bpe") != std::string::npos);
  CHECK(bad.message().find("'gpt-2'") != std::string::npos);
  CHECK(bad.message().find("'smollm'") != std::string::npos);
}

TEST_CASE("byte_bpe_merges_by_rank") {
  const Vocab v = tiny_vocab("gpt-2");
  const Tokenizer tok(v);
  // " hello": Ġ h e l l o. Rank 0 "l l", rank 1 "h e", rank 2 "he ll" (made possible by the
  // first two), rank 3 "Ġ h" is stale by then (h merged), rank 4 "hell o".
  CHECK_EQ(ids_str(tok.encode(" hello", false)), ids_str({' ', 260}));
  CHECK_EQ(ids_str(tok.encode("hello", false)), ids_str({260}));
  // "hel": only "h e" applies.
  CHECK_EQ(ids_str(tok.encode("hel", false)), ids_str({257, 'l'}));
  // Equal ranks merge leftmost first: "lll" -> "ll" "l".
  CHECK_EQ(ids_str(tok.encode("lll", false)), ids_str({256, 'l'}));
  // " hell" by merges: Ġ + hell (no merge builds "Ġhell", id 262).
  CHECK_EQ(ids_str(tok.encode(" hell", false)), ids_str({' ', 258}));
  // " he": rank 1 "h e" before rank 3 "Ġ h", so "Ġhe" (rank 5 from "Ġh e") is never reached.
  CHECK_EQ(ids_str(tok.encode(" he", false)), ids_str({' ', 257}));
  CHECK_EQ(ids_str(tok.encode(" hx", false)), ids_str({259, 'x'}));
}

TEST_CASE("byte_bpe_llama3_whole_word_lookup") {
  // llama-bpe emits a word that is itself a token as that token, even where merges would not
  // build it ("ignore_merges"): " hell" -> 262.
  const Vocab v = tiny_vocab("llama-bpe");
  const Tokenizer tok(v);
  CHECK_EQ(ids_str(tok.encode(" hell", false)), ids_str({262}));
  CHECK_EQ(ids_str(tok.encode(" hello", false)), ids_str({' ', 260}));
}

TEST_CASE("byte_bpe_special_tokens") {
  const Vocab v = tiny_vocab("gpt-2");
  const Tokenizer tok(v);
  // Without parse_special a control token's text is plain text: a, <|, eot, |>, b (no merges).
  CHECK_EQ(ids_str(tok.encode("a<|eot|>b", false)), ids_str(bytes_of("a<|eot|>b")));
  CHECK_EQ(ids_str(tok.encode("a<|eot|>b", false, true)), ids_str({'a', 263, 'b'}));
  // The longest special text wins over its prefix "<|e".
  CHECK_EQ(ids_str(tok.encode("<|eot|><|e", false, true)), ids_str({263, 265}));
  // User-defined tokens are cut out either way.
  CHECK_EQ(ids_str(tok.encode("a<u>b", false)), ids_str({'a', 264, 'b'}));
  CHECK_EQ(ids_str(tok.encode("<u><u>", false, true)), ids_str({264, 264}));
  CHECK_EQ(ids_str(tok.encode("hello<|eot|>", false, true)), ids_str({260, 263}));
  CHECK_EQ(tok.token_id("<|eot|>"), 263);
  CHECK_EQ(tok.token_id(bl("hello")), 260);
  CHECK_EQ(tok.token_id("zzz"), -1);
  // Control tokens decode to nothing unless asked for their text.
  CHECK_EQ(tok.piece_bytes(263), std::string());
  CHECK_EQ(tok.piece_bytes(263, true), std::string("<|eot|>"));
  CHECK_EQ(tok.piece_bytes(264), std::string("<u>"));
  CHECK_EQ(tok.piece_bytes(' '), std::string(" "));
  CHECK_EQ(tok.piece_bytes(262), std::string(" hell"));
  CHECK_EQ(tok.decode({'a', 263, 'b'}), std::string("ab"));
  CHECK_EQ(tok.decode({'a', 263, 'b'}, true), std::string("a<|eot|>b"));
}

TEST_CASE("end_of_generation_ids") {
  Vocab v = tiny_vocab("gpt-2");
  loam::find_end_of_generation_ids(v);
  // eos (267 "<|end_of_text|>") and the end-of-turn text "<|eot_id|>" (266); "<|eot|>" is not
  // a known end-of-turn text.
  CHECK_EQ(ids_str(v.eog_ids), ids_str({266, 267}));
  CHECK_EQ(v.eot_id, 266);
  const Tokenizer tok(v);
  CHECK(tok.is_eog(266));
  CHECK(tok.is_eog(267));
  CHECK(!tok.is_eog(263));
  CHECK(!tok.is_eog(-1));
  // A vocabulary without the list falls back to eos alone.
  Vocab plain = tiny_vocab("gpt-2");
  const Tokenizer plain_tok(plain);
  CHECK(plain_tok.is_eog(267));
  CHECK(!plain_tok.is_eog(266));
  // A file's eot_token_id is kept.
  Vocab given = tiny_vocab("gpt-2");
  given.eot_id = 263;
  loam::find_end_of_generation_ids(given);
  CHECK_EQ(given.eot_id, 263);
  CHECK_EQ(ids_str(given.eog_ids), ids_str({263, 266, 267}));
}

TEST_CASE("byte_bpe_stream_decoder_prints_whole_characters") {
  const Vocab v = tiny_vocab("gpt-2");
  const Tokenizer tok(v);
  // "é" (C3 A9) and "🦙" (F0 9F A6 99) arrive one byte token at a time.
  loam::StreamDecoder dec(tok);
  CHECK_EQ(dec.push(-1, 'a'), std::string("a"));
  CHECK_EQ(dec.push('a', 0xC3), std::string());
  CHECK_EQ(dec.push(0xC3, 0xA9), std::string("\xC3\xA9"));
  CHECK_EQ(dec.push(-1, 0xF0), std::string());
  CHECK_EQ(dec.push(-1, 0x9F), std::string());
  CHECK_EQ(dec.push(-1, 0xA6), std::string());
  CHECK_EQ(dec.push(-1, 0x99), std::string("\xF0\x9F\xA6\x99"));
  CHECK_EQ(dec.push(-1, 263), std::string());  // control: nothing
  CHECK_EQ(dec.push(-1, 0xE2), std::string());
  CHECK_EQ(dec.flush(), std::string("\xE2"));
  loam::StreamDecoder special(tok, true);
  CHECK_EQ(special.push(-1, 263), std::string("<|eot|>"));
}

TEST_CASE("byte_bpe_round_trips") {
  for (const char* pre : {"llama-bpe", "gpt-2"}) {
    const Vocab v = tiny_vocab(pre);
    const Tokenizer tok(v);
    const std::vector<std::string> texts = {
        "Hello, world!", "na\xC3\xAFve caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\xA6\x99",
        "\t\n  \r\n\n   x  ", "don't STOP'LL 1234567", "\xFF\xC3(\x80 bad bytes \xED\xA0\x80",
        std::string("nul\0byte", 8), "<|eot|> stays text", std::string(1000, 'l')};
    for (const std::string& t : texts) {
      CHECK_EQ(tok.decode(tok.encode(t, false)), t);
      CHECK_EQ(tok.decode(tok.encode(t, true)), t);  // BOS is a control token: no text
    }
  }
}

TEST_CASE("byte_bpe_long_input_is_not_quadratic") {
  // One 400000-byte word: a quadratic merge loop would take minutes (ctest's timeout).
  const Vocab v = tiny_vocab("gpt-2");
  const Tokenizer tok(v);
  const Ids ids = tok.encode(std::string(400000, 'l'), false);
  CHECK_EQ(ids.size(), size_t(200000));
  CHECK(ids.front() == 256 && ids.back() == 256);
  // And many words, each with a special token between.
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "hello <|eot|>";
  CHECK_EQ(tok.encode(text, false, true).size(), size_t(60000));
}

// ---- files the loader must refuse ---------------------------------------------------------------

namespace {

struct VocabFile {
  std::string pre = "llama-bpe";
  bool with_pre = true;
  std::vector<std::string> tokens = {"a", "b", "ab", "\xC4\xA0"};
  std::vector<std::string> merges = {"a b"};
  bool with_merges = true;
};

Status load_written(const VocabFile& f, const std::string& name, Vocab& out) {
  using loam::GgufValue;
  loam::GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::make_string("gpt2"));
  if (f.with_pre) w.set("tokenizer.ggml.pre", GgufValue::make_string(f.pre));
  w.set("tokenizer.ggml.tokens", GgufValue::make_string_array(f.tokens));
  w.set("tokenizer.ggml.token_type",
        GgufValue::make_i32_array(std::vector<int32_t>(f.tokens.size(), 1)));
  if (f.with_merges) w.set("tokenizer.ggml.merges", GgufValue::make_string_array(f.merges));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::make_u32(0));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::make_u32(1));
  const std::string path = loam_test::temp_dir() + "/" + name + ".gguf";
  const Status written = w.write(path);
  REQUIRE(written.is_ok());
  return loam::load_gguf_vocab(path, out);
}

void check_refused(const VocabFile& f, const std::string& name,
                   std::initializer_list<const char*> needles) {
  Vocab v;
  const Status s = load_written(f, name, v);
  if (s.is_ok()) {
    loam_test::record_failure(__FILE__, __LINE__, name + ": loaded, want an error");
    return;
  }
  CHECK(s.message().find(name + ".gguf") != std::string::npos);  // names the file
  CHECK(s.message().find('\n') == std::string::npos);            // one line
  for (const char* n : needles) {
    if (s.message().find(n) == std::string::npos) {
      loam_test::record_failure(__FILE__, __LINE__,
                                name + ": '" + n + "' not in: " + s.message());
    }
  }
}

}  // namespace

TEST_CASE("byte_bpe_vocab_file_accepted") {
  Vocab v;
  const Status s = load_written(VocabFile{}, "good", v);
  REQUIRE(s.is_ok());
  CHECK_EQ(v.model, std::string("gpt2"));
  CHECK_EQ(v.pre, std::string("llama-bpe"));
  CHECK(!v.add_space_prefix);
  CHECK_EQ(v.unk_id, -1);
  const Tokenizer tok(v);
  CHECK_EQ(ids_str(tok.encode("ab", false)), ids_str({2}));
  CHECK_EQ(ids_str(tok.encode(" a", false)), ids_str({3, 0}));
}

TEST_CASE("byte_bpe_vocab_files_refused") {
  VocabFile unknown_pre;
  unknown_pre.pre = "qwen2";
  check_refused(unknown_pre, "unknown_pre",
                {"tokenizer.ggml.pre", "'qwen2'", "llama-bpe", "gpt-2", "smollm"});
  VocabFile no_pre;
  no_pre.with_pre = false;
  check_refused(no_pre, "no_pre", {"tokenizer.ggml.pre", "missing", "smollm"});
  VocabFile no_merges;
  no_merges.with_merges = false;
  check_refused(no_merges, "no_merges", {"tokenizer.ggml.merges", "missing"});
  VocabFile unknown_left;
  unknown_left.merges = {"a b", "x b"};
  check_refused(unknown_left, "unknown_left",
                {"tokenizer.ggml.merges", "entry 1", "'x' is not a token"});
  VocabFile unknown_right;
  unknown_right.merges = {"a y"};
  check_refused(unknown_right, "unknown_right", {"entry 0", "'y' is not a token"});
  VocabFile unknown_result;
  unknown_result.merges = {"b a"};
  check_refused(unknown_result, "unknown_result", {"entry 0", "merged 'ba' is not a token"});
  VocabFile malformed;
  malformed.merges = {"ab"};
  check_refused(malformed, "malformed", {"entry 0", "not two tokens"});
}
