// `loam batch` input lines: every field and its type checks, the id an error record gets, hostile
// JSON (deep nesting, huge numbers, bad escapes, invalid UTF-8, lone surrogates) refused with a
// message and no crash, and the bounded line reader.
#include <cstdio>
#include <string>

#include "batch/batch_input.h"
#include "harness/test.h"

using loam::batch::BatchRequest;
using loam::batch::GenerationSettings;
using loam::batch::InputLimits;
using loam::batch::LineReader;

namespace {

// The error message for `line` (numbered 7), or "" when it parses; `req` gets the request.
std::string error_of(const std::string& line, BatchRequest& req) {
  GenerationSettings defaults;
  defaults.n_predict = 32;
  defaults.sampling.temp = 0.5f;
  const loam::Status st = loam::batch::parse_request(line, 7, defaults, InputLimits{}, req);
  return st ? std::string() : st.message();
}

std::string error_of(const std::string& line) {
  BatchRequest req;
  return error_of(line, req);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a full line: every field read, the flags' defaults overridden") {
  BatchRequest r;
  REQUIRE(error_of(R"({"id":"q1","prompt":"Hi \u00e9\n","n_predict":5,"temperature":0,)"
                   R"("top_k":3,"top_p":0.5,"min_p":0.25,"repeat_penalty":1.5,)"
                   R"("repeat_last_n":-1,"seed":42,"stop":["\n\n","END"]})",
                   r) == "");
  CHECK_EQ(r.id.as_string(), std::string("q1"));
  CHECK_EQ(r.prompt, std::string("Hi \xc3\xa9\n"));
  CHECK(!r.has_messages);
  CHECK_EQ(r.settings.n_predict, 5);
  CHECK_EQ(r.settings.sampling.temp, 0.0f);
  CHECK_EQ(r.settings.sampling.top_k, 3);
  CHECK_EQ(r.settings.sampling.top_p, 0.5f);
  CHECK_EQ(r.settings.sampling.min_p, 0.25f);
  CHECK_EQ(r.settings.sampling.repeat_penalty, 1.5f);
  CHECK_EQ(r.settings.repeat_last_n, -1);
  CHECK(r.settings.seed_given);
  CHECK_EQ(r.settings.sampling.seed, 42u);
  REQUIRE(r.settings.stop.size() == 2u);
  CHECK_EQ(r.settings.stop[0], std::string("\n\n"));
  CHECK_EQ(r.settings.stop[1], std::string("END"));
}

TEST_CASE("fields a line leaves out keep the flags' values; no id means the line number") {
  BatchRequest r;
  REQUIRE(error_of(R"({"prompt":""})", r) == "");
  CHECK(r.id.is_integer());
  CHECK_EQ(r.id.as_int64(), 7);
  CHECK_EQ(r.settings.n_predict, 32);
  CHECK_EQ(r.settings.sampling.temp, 0.5f);
  CHECK(!r.settings.seed_given);
  REQUIRE(error_of(R"({"id":12.5,"prompt":"x"})", r) == "");
  CHECK_EQ(r.id.as_number(), 12.5);
}

TEST_CASE("messages: roles and contents read in order") {
  BatchRequest r;
  REQUIRE(error_of(R"({"messages":[{"role":"system","content":"Be brief."},)"
                   R"({"content":"Hi","role":"user"}]})",
                   r) == "");
  CHECK(r.has_messages);
  REQUIRE(r.messages.size() == 2u);
  CHECK_EQ(r.messages[0].role, std::string("system"));
  CHECK_EQ(r.messages[1].content, std::string("Hi"));
  CHECK(contains(error_of(R"({"messages":[]})"), "'messages' must be a non-empty array"));
  CHECK(contains(error_of(R"({"messages":[{"role":"bot","content":"x"}]})"),
                 "'messages[0].role' must be system, user or assistant"));
  CHECK(contains(error_of(R"({"messages":[{"role":"user"}]})"), "needs both role and content"));
  CHECK(contains(error_of(R"({"messages":[{"role":"user","content":"x","name":"a"}]})"),
                 "unknown field \"name\" in messages[0]"));
  CHECK(contains(error_of(R"({"messages":[{"role":"user","content":"x"}],"prompt":"y"})"),
                 "not both"));
}

TEST_CASE("wrong types, ranges and unknown fields: one message naming the line and field") {
  CHECK_EQ(error_of(R"({"prompt":"x","top_k":"5"})"),
           std::string("line 7: 'top_k' must be an integer in [0, 2147483647], got a string"));
  CHECK_EQ(error_of(R"({"prompt":"x","n_predict":-2})"),
           std::string("line 7: 'n_predict' must be an integer in [-1, 2147483647], got an "
                       "integer -2"));
  CHECK_EQ(error_of(R"({"prompt":"x","n_predict":1.5})"),
           std::string("line 7: 'n_predict' must be an integer in [-1, 2147483647], got a "
                       "number 1.5"));
  CHECK(contains(error_of(R"({"prompt":"x","top_p":1.5})"), "'top_p' must be a number in [0, 1]"));
  CHECK(contains(error_of(R"({"prompt":"x","min_p":-0.1})"), "'min_p' must be a number"));
  CHECK(contains(error_of(R"({"prompt":"x","repeat_penalty":0})"), "'repeat_penalty'"));
  CHECK(contains(error_of(R"({"prompt":"x","seed":-1})"), "'seed' must be an integer"));
  CHECK(contains(error_of(R"({"prompt":"x","seed":1e30})"), "'seed' must be an integer"));
  CHECK(contains(error_of(R"({"prompt":"x","temperature":true})"),
                 "'temperature' must be a number"));
  CHECK(contains(error_of(R"({"prompt":7})"), "'prompt' must be a string, got an integer 7"));
  CHECK(contains(error_of(R"({"prompt":"x","stop":"\n"})"), "'stop' must be an array"));
  CHECK(contains(error_of(R"({"prompt":"x","stop":[""]})"), "'stop[0]' is empty"));
  CHECK(contains(error_of(R"({"prompt":"x","stop":[1]})"), "'stop[0]' must be a string"));
  CHECK(contains(error_of(R"({"prompt":"x","stop":["a","b","c","d","e","f","g","h","i","j",)"
                          R"("k","l","m","n","o","p","q"]})"),
                 "'stop' has 17 strings, at most 16"));
  CHECK(contains(error_of(R"({"prompt":"x","Prompt":"y"})"), "unknown field \"Prompt\""));
  CHECK(contains(error_of(R"({"id":1})"), "neither 'prompt' nor 'messages'"));
  CHECK(contains(error_of(R"({"id":[1],"prompt":"x"})"), "'id' must be a string or a number"));
  CHECK(contains(error_of(R"(["prompt","x"])"), "expected a JSON object, got an array"));
  CHECK(contains(error_of(R"("x")"), "expected a JSON object, got a string"));
}

TEST_CASE("an error record keeps the line's id when it could be read") {
  BatchRequest r;
  CHECK(error_of(R"({"id":"keep","prompt":"x","top_k":-1})", r) != "");
  CHECK_EQ(r.id.as_string(), std::string("keep"));
  CHECK(error_of(R"({"id":{"a":1},"prompt":"x"})", r) != "");
  CHECK_EQ(r.id.as_int64(), 7);  // not a usable id: the line number
  CHECK(error_of(R"({"id":"x",)", r) != "");
  CHECK_EQ(r.id.as_int64(), 7);
}

TEST_CASE("hostile lines are refused with a message and no crash") {
  const std::string deep(100000, '[');
  CHECK(contains(error_of(deep), "line 7: JSON:"));
  CHECK(contains(error_of(R"({"prompt":"x","n":)" + std::string(20, '[') + std::string(20, ']') +
                          "}"),
                 "line 7: JSON:"));  // nesting deeper than a request needs
  CHECK(contains(error_of(R"({"prompt":"x","seed":1e999})"), "line 7: JSON:"));
  CHECK(contains(error_of(R"({"prompt":"x","seed":)" + std::string(5000, '9') + "}"),
                 "line 7: JSON:"));
  CHECK(contains(error_of(R"({"prompt":"a\x"})"), "line 7: JSON:"));
  CHECK(contains(error_of(R"({"prompt":"a\u12"})"), "line 7: JSON:"));
  CHECK(contains(error_of(R"({"prompt":"\ud800"})"), "line 7: JSON:"));        // lone high
  CHECK(contains(error_of(R"({"prompt":"\udc00\ud800"})"), "line 7: JSON:"));  // reversed
  CHECK(contains(error_of("{\"prompt\":\"\xff\"}"), "line 7: JSON:"));
  CHECK(contains(error_of("{\"prompt\":\"\xc0\xaf\"}"), "line 7: JSON:"));  // overlong '/'
  CHECK(contains(error_of("{\"prompt\":\"\xed\xa0\x80\"}"), "line 7: JSON:"));  // surrogate
  CHECK(contains(error_of("{\"prompt\":\"a\tb\"}"), "line 7: JSON:"));  // raw control char
  CHECK(contains(error_of(R"({"prompt":"x","prompt":"y"})"), "line 7: JSON:"));  // duplicate
  CHECK(contains(error_of(R"({"prompt":"x",})"), "line 7: JSON:"));
  CHECK(contains(error_of(R"({"prompt":"x"} {})"), "line 7: JSON:"));
  CHECK(contains(error_of(""), "line 7: JSON:"));
  // A valid surrogate pair is fine.
  BatchRequest r;
  REQUIRE(error_of(R"({"prompt":"\ud83d\ude00"})", r) == "");
  CHECK_EQ(r.prompt, std::string("\xf0\x9f\x98\x80"));
}

TEST_CASE("blank lines") {
  CHECK(loam::batch::is_blank_line(""));
  CHECK(loam::batch::is_blank_line(" \t\r"));
  CHECK(!loam::batch::is_blank_line(" {}"));
}

TEST_CASE("LineReader: lines, a last line without newline, a too-long line skipped") {
  const std::string path = loam_test::temp_dir() + "/lines.txt";
  std::string long_line(300000, 'x');  // several buffer fills
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    const std::string text = "one\n\nthree\r\n" + long_line + "\nfive\nsix";
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  LineReader reader(f, 1000);
  std::string line;
  CHECK(reader.next(line) == LineReader::Result::kLine);
  CHECK_EQ(line, std::string("one"));
  CHECK(reader.next(line) == LineReader::Result::kLine);
  CHECK_EQ(line, std::string(""));
  CHECK(reader.next(line) == LineReader::Result::kLine);
  CHECK_EQ(line, std::string("three\r"));
  CHECK(reader.next(line) == LineReader::Result::kTooLong);
  CHECK_EQ(reader.line_number(), 4u);
  CHECK(reader.next(line) == LineReader::Result::kLine);
  CHECK_EQ(line, std::string("five"));
  CHECK(reader.terminated());
  CHECK(reader.next(line) == LineReader::Result::kLine);
  CHECK_EQ(line, std::string("six"));
  CHECK(!reader.terminated());
  CHECK_EQ(reader.line_number(), 6u);
  CHECK_EQ(reader.offset(), 4u + 1u + 7u + 300001u + 5u + 3u);
  CHECK(reader.next(line) == LineReader::Result::kEnd);
  std::fclose(f);
}
