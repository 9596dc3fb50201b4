// The JSON reader and writer against hand-written expectations: every escape, surrogate pairs,
// the UTF-8 rules (Unicode Table 3-7) and U+FFFD substitution (Table 3-8), number edge cases,
// structural errors with their messages, limits, and a hostile-input run of seeded mutations
// that must never crash.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/json.h"
#include "harness/test.h"

using loam::json::Array;
using loam::json::Object;
using loam::json::ParseLimits;
using loam::json::Value;

namespace {

// The error message of parsing `text`, or "" when it parses.
std::string error_of(std::string_view text, const ParseLimits& limits = {}) {
  Value v;
  const loam::Status st = loam::json::parse(text, v, limits);
  return st ? std::string() : st.message();
}

Value parsed(std::string_view text) {
  Value v;
  const loam::Status st = loam::json::parse(text, v);
  if (!st) {
    ::loam_test::record_failure(__FILE__, __LINE__, "parse failed: " + st.message());
    throw ::loam_test::StopCase{};
  }
  return v;
}

// "f0 9f 98 80": bytes spelled out, so that expectations on non-ASCII text are readable.
std::string hex(std::string_view s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    if (!out.empty()) out += ' ';
    out += buf;
  }
  return out;
}

// splitmix64: a fixed, seeded sequence so that the hostile run is the same on every machine.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

}  // namespace

// --- values and strings -------------------------------------------------------------------------

TEST_CASE("literals, strings and containers parse to the right types") {
  CHECK(parsed("null").is_null());
  CHECK(parsed("true").is_bool() && parsed("true").as_bool());
  CHECK(parsed("false").is_bool() && !parsed("false").as_bool());
  // Copies: CHECK_EQ binds a reference, and these Values are temporaries.
  CHECK_EQ(std::string(parsed("\"abc\"").as_string()), std::string("abc"));
  CHECK_EQ(std::string(parsed("\"\"").as_string()), std::string(""));
  const Value a = parsed("[1, \"x\", null, [], {}]");
  REQUIRE(a.is_array());
  REQUIRE(a.as_array().size() == 5);
  CHECK(a.as_array()[0].is_number());
  CHECK(a.as_array()[1].is_string());
  CHECK(a.as_array()[2].is_null());
  CHECK(a.as_array()[3].is_array() && a.as_array()[3].as_array().empty());
  CHECK(a.as_array()[4].is_object() && a.as_array()[4].as_object().empty());
}

TEST_CASE("objects keep document order; find looks keys up") {
  const Value o = parsed("{\"b\": 1, \"a\": {\"c\": true}}");
  REQUIRE(o.is_object());
  REQUIRE(o.as_object().size() == 2);
  CHECK_EQ(o.as_object()[0].first, std::string("b"));
  CHECK_EQ(o.as_object()[1].first, std::string("a"));
  REQUIRE(o.find("b") != nullptr);
  CHECK_EQ(o.find("b")->as_int64(), int64_t(1));
  REQUIRE(o.find("a") != nullptr);
  REQUIRE(o.find("a")->find("c") != nullptr);
  CHECK(o.find("a")->find("c")->as_bool());
  CHECK(o.find("c") == nullptr);
  CHECK(o.find("") == nullptr);
}

TEST_CASE("accessors on a value of another type return empty values") {
  static_assert(!std::is_constructible_v<Value, const Value*>, "a pointer must not become a bool");
  static_assert(!std::is_constructible_v<Value, int*>, "a pointer must not become a bool");
  const Value s("text");
  CHECK_EQ(s.as_number(), 0.0);
  CHECK_EQ(s.as_int64(), int64_t(0));
  CHECK(!s.as_bool());
  CHECK(s.as_array().empty());
  CHECK(s.as_object().empty());
  CHECK(s.find("text") == nullptr);
  const Value n(1.5);
  CHECK(!n.is_integer());
  CHECK_EQ(n.as_int64(), int64_t(0));
  CHECK_EQ(n.as_string(), std::string(""));
  CHECK(Value().is_null());
  CHECK(Value(nullptr).is_null());
}

TEST_CASE("every escape decodes to its byte") {
  // \" \\ \/ \b \f \n \r \t, then \u0041 (A), \u00e9 (é, 2 bytes), \u20AC (€, 3 bytes), \u0000.
  const Value v = parsed(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\u0000")");
  CHECK_EQ(hex(v.as_string()), std::string("22 5c 2f 08 0c 0a 0d 09 41 c3 a9 e2 82 ac 00"));
  CHECK_EQ(hex(parsed(R"("\u00E9\u00e9")").as_string()), std::string("c3 a9 c3 a9"));
  CHECK_EQ(hex(parsed(R"("\u007f\u0080\u07ff\u0800\uffff")").as_string()),
           std::string("7f c2 80 df bf e0 a0 80 ef bf bf"));
}

TEST_CASE("invalid escapes are rejected") {
  CHECK_EQ(error_of(R"("a\x")"), std::string("JSON: invalid escape character 'x' at byte 2"));
  CHECK_EQ(error_of(R"("\'")"), std::string("JSON: invalid escape character ''' at byte 1"));
  CHECK_EQ(error_of(R"("\U0041")"), std::string("JSON: invalid escape character 'U' at byte 1"));
  CHECK_EQ(error_of(R"("\u12")"),
           std::string("JSON: invalid \\u escape (needs 4 hex digits) at byte 1"));
  CHECK_EQ(error_of(R"("\u12G4")"),
           std::string("JSON: invalid \\u escape (needs 4 hex digits) at byte 1"));
  CHECK(!error_of(R"("\)").empty());
  CHECK(!error_of("\"\\").empty());
}

TEST_CASE("surrogate pairs decode to one 4-byte character") {
  CHECK_EQ(hex(parsed(R"("\ud83d\ude00")").as_string()), std::string("f0 9f 98 80"));  // U+1F600
  CHECK_EQ(hex(parsed(R"("\uD834\uDD1E")").as_string()), std::string("f0 9d 84 9e"));  // U+1D11E
  CHECK_EQ(hex(parsed(R"("\ud800\udc00")").as_string()), std::string("f0 90 80 80"));  // U+10000
  CHECK_EQ(hex(parsed(R"("\udbff\udfff")").as_string()), std::string("f4 8f bf bf"));  // U+10FFFF
}

TEST_CASE("lone and reversed surrogates are rejected") {
  CHECK_EQ(error_of(R"("\ud83d")"), std::string("JSON: unpaired high surrogate \\ud83d at byte 1"));
  CHECK_EQ(error_of(R"("\ude00")"), std::string("JSON: unpaired low surrogate \\ude00 at byte 1"));
  CHECK_EQ(error_of(R"("\ude00\ud83d")"),
           std::string("JSON: unpaired low surrogate \\ude00 at byte 1"));
  CHECK_EQ(error_of(R"(["x", "ab\uD83Dz"])"),
           std::string("JSON: unpaired high surrogate \\uD83D at byte 9"));
  CHECK(!error_of(R"("\ud83d\u0041")").empty());  // followed by a non-surrogate escape
  CHECK(!error_of(R"("\ud83d\ud83d")").empty());  // two highs
  CHECK(!error_of(R"("\ud83d\n")").empty());
  CHECK(!error_of(R"("\ud83d\ude0")").empty());  // truncated low
  CHECK(!error_of("\"\\ud83d\xed\xb8\x80\"").empty());  // low surrogate as raw (invalid) UTF-8
}

TEST_CASE("raw control characters (not DEL) and unterminated strings are rejected") {
  CHECK_EQ(error_of("\"a\tb\""),
           std::string("JSON: raw control character byte 0x09 in string at byte 2"));
  CHECK(!error_of("\"a\nb\"").empty());
  CHECK(!error_of(std::string("\"a\0b\"", 5)).empty());
  CHECK_EQ(error_of("\"\x1f\""),
           std::string("JSON: raw control character byte 0x1f in string at byte 1"));
  CHECK_EQ(hex(parsed("\"\x7f\"").as_string()), std::string("7f"));
  CHECK_EQ(error_of("\"abc"),
           std::string("JSON: unterminated string (opened at byte 0) at byte 4"));
  CHECK(!error_of("[\"abc]").empty());
  CHECK(!error_of("{\"a").empty());
}

// --- UTF-8 --------------------------------------------------------------------------------------

TEST_CASE("is_valid_utf8 follows Unicode Table 3-7") {
  using loam::json::is_valid_utf8;
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ASCII text longer than eight bytes"));
  CHECK(is_valid_utf8("\xC3\xA9"));          // U+00E9
  CHECK(is_valid_utf8("\xE2\x82\xAC"));      // U+20AC
  CHECK(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF, last before the surrogates
  CHECK(is_valid_utf8("\xEE\x80\x80"));      // U+E000, first after them
  CHECK(is_valid_utf8("\xF0\x9F\x98\x80"));  // U+1F600
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  CHECK(!is_valid_utf8("\xC0\x80"));         // overlong U+0000
  CHECK(!is_valid_utf8("\xC1\xBF"));         // overlong U+007F
  CHECK(!is_valid_utf8("\xE0\x80\x80"));     // overlong 3-byte
  CHECK(!is_valid_utf8("\xF0\x80\x80\x80"));  // overlong 4-byte
  CHECK(!is_valid_utf8("\xED\xA0\x80"));     // U+D800 encoded
  CHECK(!is_valid_utf8("\xED\xBF\xBF"));     // U+DFFF encoded
  CHECK(!is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK(!is_valid_utf8("\xF5\x80\x80\x80"));
  CHECK(!is_valid_utf8("\xE2\x82"));  // truncated
  CHECK(!is_valid_utf8("\x80"));      // stray continuation
  CHECK(!is_valid_utf8("\xFF"));
  CHECK(!is_valid_utf8("abcdefgh\x80"));  // just after an 8-byte ASCII block
  CHECK(!is_valid_utf8("abcdefghijklmno\xE2\x82"));
  CHECK(!is_valid_utf8("\xC3\xA9" "abcdefgh" "\xC3"));
}

TEST_CASE("invalid UTF-8 is rejected by parse with its position") {
  CHECK_EQ(error_of("\"ab\xC0\x80\""), std::string("JSON: invalid UTF-8 at byte 3"));
  CHECK_EQ(error_of("\"\xED\xA0\x80\""), std::string("JSON: invalid UTF-8 at byte 1"));
  CHECK_EQ(error_of("\"\xF4\x90\x80\x80\""), std::string("JSON: invalid UTF-8 at byte 1"));
  CHECK_EQ(error_of("\"\xE2\x82\""), std::string("JSON: invalid UTF-8 at byte 1"));
  CHECK_EQ(error_of("\"\xE2\x82"), std::string("JSON: invalid UTF-8 at byte 1"));
  CHECK_EQ(error_of("[\"x\", \"\x80\"]"), std::string("JSON: invalid UTF-8 at byte 7"));
  CHECK_EQ(error_of("{\"k\xFF\": 1}"), std::string("JSON: invalid UTF-8 at byte 3"));
  // Outside strings no byte above 0x7F is valid JSON, well-formed or not.
  CHECK_EQ(error_of("\xC3\xA9"), std::string("JSON: expected a value at byte 0, found byte 0xc3"));
  CHECK_EQ(error_of("[1]\x80"),
           std::string("JSON: unexpected byte 0x80 after the value at byte 3"));
  // Well-formed multi-byte text is kept as is.
  CHECK_EQ(hex(parsed("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"").as_string()),
           std::string("c3 a9 e2 82 ac f0 9f 98 80"));
}

TEST_CASE("quote escapes what JSON requires and copies the rest") {
  using loam::json::quote;
  CHECK_EQ(quote(""), std::string("\"\""));
  CHECK_EQ(quote("plain / text"), std::string("\"plain / text\""));
  CHECK_EQ(quote("a\"b\\c"), std::string("\"a\\\"b\\\\c\""));
  CHECK_EQ(quote("\n\t\r\b\f"), std::string("\"\\n\\t\\r\\b\\f\""));
  CHECK_EQ(quote(std::string("a\0b", 3)), std::string("\"a\\u0000b\""));
  CHECK_EQ(quote("\x01\x1f\x7f"), std::string("\"\\u0001\\u001f\x7f\""));
  CHECK_EQ(quote("\xC3\xA9\xF0\x9F\x98\x80"), std::string("\"\xC3\xA9\xF0\x9F\x98\x80\""));
}

TEST_CASE("quote replaces each maximal invalid UTF-8 subpart with one U+FFFD") {
  using loam::json::quote;
  const std::string r = "\xEF\xBF\xBD";
  CHECK_EQ(quote("\xC0\x80"), "\"" + r + r + "\"");                  // C0 never starts a sequence
  CHECK_EQ(quote("\xED\xA0\x80"), "\"" + r + r + r + "\"");          // ED takes 80..9F only
  CHECK_EQ(quote("\xF4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // F4 takes 80..8F only
  CHECK_EQ(quote("\xE2\x82"), "\"" + r + "\"");                      // one truncated sequence
  CHECK_EQ(quote("\xE2\x82" "A"), "\"" + r + "A\"");
  CHECK_EQ(quote("\x80"), "\"" + r + "\"");
  CHECK_EQ(quote("\xF0\x9F\x98" "A"), "\"" + r + "A\"");
  CHECK_EQ(quote("x\xFF\xFEy"), "\"x" + r + r + "y\"");
  // The Unicode standard's own example (Table 3-8):
  // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 -> a FFFD FFFD FFFD b FFFD c FFFD FFFD d
  CHECK_EQ(quote("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
           "\"a" + r + r + r + "b" + r + "c" + r + r + "d\"");
  CHECK(loam::json::is_valid_utf8(quote("\xC0\x80\xED\xA0\x80\xF4\x90\x80\x80\xE2\x82")));
}

TEST_CASE("quote output parses back to the same valid text") {
  SplitMix rng{42};
  const char alphabet[] = {'a',    '"',    '\\',   '\n',   '\0',   '\x1f', '\x7f', '/',    'u',
                           '\xC3', '\xA9', '\xE2', '\x82', '\xAC', '\xF0', '\x9F', '\x98', '\x80'};
  int valid_seen = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const size_t len = rng.below(12);
    for (size_t j = 0; j < len; ++j) s += alphabet[rng.below(sizeof alphabet)];
    const std::string q = loam::json::quote(s);
    REQUIRE(loam::json::is_valid_utf8(q));
    Value v;
    REQUIRE(loam::json::parse(q, v).is_ok());
    REQUIRE(v.is_string());
    if (loam::json::is_valid_utf8(s)) {
      ++valid_seen;
      CHECK_EQ(hex(v.as_string()), hex(s));
    }
  }
  CHECK(valid_seen > 100);
}

// --- numbers ------------------------------------------------------------------------------------

TEST_CASE("numbers: integers are exact int64, others doubles") {
  const Value zero = parsed("0");
  CHECK(zero.is_integer());
  CHECK_EQ(zero.as_int64(), int64_t(0));
  const Value minus_zero = parsed("-0");
  CHECK(minus_zero.is_number() && !minus_zero.is_integer());
  CHECK_EQ(minus_zero.as_number(), 0.0);
  CHECK(std::signbit(minus_zero.as_number()));
  CHECK_EQ(parsed("-12").as_int64(), int64_t(-12));
  const Value e3 = parsed("1.5e3");
  CHECK(!e3.is_integer());
  CHECK_EQ(e3.as_number(), 1500.0);
  CHECK_EQ(parsed("1E+2").as_number(), 100.0);
  CHECK_EQ(parsed("2.5E-1").as_number(), 0.25);
  CHECK_EQ(parsed("0.1").as_number(), 0.1);
  CHECK_EQ(parsed("-0.0").as_number(), 0.0);
  CHECK(!parsed("1.0").is_integer());  // written with a fraction
  // 2^53 + 1 is not a double; it must survive as an integer.
  const Value big = parsed("9007199254740993");
  CHECK(big.is_integer());
  CHECK_EQ(big.as_int64(), int64_t(9007199254740993LL));
  CHECK_EQ(parsed("9223372036854775807").as_int64(), std::numeric_limits<int64_t>::max());
  const Value min = parsed("-9223372036854775808");
  CHECK(min.is_integer());
  CHECK_EQ(min.as_int64(), std::numeric_limits<int64_t>::min());
  const Value over = parsed("9223372036854775808");  // 2^63: a double, not an integer
  CHECK(!over.is_integer());
  CHECK_EQ(over.as_number(), 9223372036854775808.0);
  CHECK(!parsed("-9223372036854775809").is_integer());
  CHECK(!parsed("12345678901234567890123").is_integer());
  CHECK_EQ(parsed("1.7976931348623157e308").as_number(), std::numeric_limits<double>::max());
  CHECK_EQ(parsed("5e-324").as_number(), std::numeric_limits<double>::denorm_min());
  const Value tiny = parsed("-1e-400");  // underflow reads as zero of its sign
  CHECK_EQ(tiny.as_number(), 0.0);
  CHECK(std::signbit(tiny.as_number()));
  CHECK_EQ(parsed("0.000000000000000000000000000000000001e-400").as_number(), 0.0);
}

TEST_CASE("numbers: malformed and out-of-range literals are rejected") {
  CHECK_EQ(error_of("01"), std::string("JSON: leading zero in number at byte 0"));
  CHECK_EQ(error_of("[-01]"), std::string("JSON: leading zero in number at byte 1"));
  CHECK(!error_of("00").empty());
  CHECK_EQ(error_of("1."),
           std::string("JSON: expected a digit after '.' at byte 2, found end of input"));
  CHECK_EQ(error_of(".5"), std::string("JSON: expected a value at byte 0, found '.'"));
  CHECK_EQ(error_of("1e"),
           std::string("JSON: expected a digit in the exponent at byte 2, found end of input"));
  CHECK(!error_of("1e+").empty());
  CHECK(!error_of("1.e5").empty());
  CHECK_EQ(error_of("-"), std::string("JSON: expected a digit at byte 1, found end of input"));
  CHECK(!error_of("+1").empty());
  CHECK(!error_of("0x10").empty());
  CHECK(!error_of("1_000").empty());
  CHECK_EQ(error_of("1e400"), std::string("JSON: number out of range of a double at byte 0"));
  CHECK_EQ(error_of("[1, -1e400]"),
           std::string("JSON: number out of range of a double at byte 4"));
  CHECK(!error_of("1.8e308").empty());
  CHECK(!error_of("0.0000001e316").empty());  // 1e309 written with leading zeros
  CHECK(!error_of("1e99999999999999999999999").empty());
  CHECK(!error_of("NaN").empty());
  CHECK(!error_of("nan").empty());
  CHECK(!error_of("Infinity").empty());
  CHECK(!error_of("-Infinity").empty());
}

TEST_CASE("numbers: the length limit") {
  const std::string n128 = "1" + std::string(127, '0');  // 1e127, 128 characters
  CHECK_EQ(error_of(n128), std::string(""));
  CHECK_EQ(error_of(n128 + "0"),
           std::string("JSON: number longer than 128 characters at byte 0"));
  ParseLimits small;
  small.max_number_chars = 3;
  CHECK_EQ(error_of("[123]", small), std::string(""));
  CHECK_EQ(error_of("[-123]", small),
           std::string("JSON: number longer than 3 characters at byte 1"));
}

// --- structure ----------------------------------------------------------------------------------

TEST_CASE("structural errors name what was expected and where") {
  CHECK_EQ(error_of(""), std::string("JSON: empty input"));
  CHECK_EQ(error_of(" \n\t\r "), std::string("JSON: empty input"));
  CHECK_EQ(error_of("[1,]"), std::string("JSON: trailing comma before ']' at byte 2"));
  CHECK_EQ(error_of("{\"a\":1 ,}"), std::string("JSON: trailing comma before '}' at byte 7"));
  CHECK_EQ(error_of("[1 2]"), std::string("JSON: expected ',' or ']' at byte 3, found '2'"));
  CHECK_EQ(error_of("{\"a\":1 \"b\":2}"),
           std::string("JSON: expected ',' or '}' at byte 7, found '\"'"));
  CHECK_EQ(error_of("{\"a\" 1}"), std::string("JSON: expected ':' at byte 5, found '1'"));
  CHECK_EQ(error_of("{a:1}"), std::string("JSON: expected a string key at byte 1, found 'a'"));
  CHECK(!error_of("{1:2}").empty());
  CHECK_EQ(error_of("['a']"), std::string("JSON: expected a value at byte 1, found '''"));
  CHECK(!error_of("[1 /* c */]").empty());
  CHECK(!error_of("[1] // c").empty());
  CHECK(!error_of("# c\n1").empty());
  CHECK_EQ(error_of("[1"), std::string("JSON: expected ',' or ']' at byte 2, found end of input"));
  CHECK(!error_of("{\"a\":1").empty());
  CHECK(!error_of("{\"a\":}").empty());
  CHECK(!error_of("[,1]").empty());
  CHECK(!error_of("]").empty());
  CHECK_EQ(error_of("tru"),
           std::string("JSON: invalid literal (expected true, false or null) at byte 0"));
  CHECK(!error_of("True").empty());
  CHECK(!error_of("nul").empty());
  CHECK(!error_of("undefined").empty());
}

TEST_CASE("exactly one value: trailing garbage is rejected") {
  CHECK_EQ(error_of("1 2"), std::string("JSON: unexpected '2' after the value at byte 2"));
  CHECK_EQ(error_of("{} x"), std::string("JSON: unexpected 'x' after the value at byte 3"));
  CHECK(!error_of("[]]").empty());
  CHECK(!error_of("truex").empty());
  CHECK(!error_of("\"a\"\"b\"").empty());
  CHECK(!error_of(std::string("1\0", 2)).empty());
}

TEST_CASE("whitespace: space, tab, LF, CR only") {
  CHECK_EQ(error_of(" \t\r\n[ 1 ,\t2\r\n] \n"), std::string(""));
  CHECK_EQ(error_of("{ \"a\" : 1 }"), std::string(""));
  CHECK_EQ(error_of("\f1"), std::string("JSON: expected a value at byte 0, found byte 0x0c"));
  CHECK(!error_of("1\v").empty());
  CHECK(!error_of("[1,\xC2\xA0" "2]").empty());  // no-break space
  CHECK(!error_of("\xE2\x80\xA8" "1").empty());  // U+2028
  CHECK_EQ(error_of("\xEF\xBB\xBF{}"),
           std::string("JSON: byte order mark at byte 0 (not allowed)"));
}

TEST_CASE("duplicate keys in one object are rejected") {
  CHECK_EQ(error_of("{\"a\":1,\"a\":2}"), std::string("JSON: duplicate key \"a\" at byte 7"));
  CHECK(!error_of("{\"a\":1,\"\\u0061\":2}").empty());  // equal once unescaped
  CHECK_EQ(error_of("{\"a\":{\"a\":1},\"b\":[{\"a\":2}]}"), std::string(""));
  // The first repeat in document order is the one reported.
  CHECK_EQ(error_of("{\"x\":1,\"y\":2,\"y\":3,\"x\":4}"),
           std::string("JSON: duplicate key \"y\" at byte 13"));
  // A large object goes through the hash-set path: keys k0..k999, then k500 again.
  std::string head = "{";
  for (int i = 0; i < 1000; ++i) head += "\"k" + std::to_string(i) + "\":0,";
  CHECK_EQ(error_of(head + "\"k500\":0}"),
           "JSON: duplicate key \"k500\" at byte " + std::to_string(head.size()));
  CHECK_EQ(error_of(head + "\"k0\":0}"),
           "JSON: duplicate key \"k0\" at byte " + std::to_string(head.size()));
  const Value big = parsed(head + "\"k1000\":7}");
  CHECK_EQ(big.as_object().size(), size_t(1001));
  REQUIRE(big.find("k999") != nullptr);
  REQUIRE(big.find("k1000") != nullptr);
  CHECK_EQ(big.find("k1000")->as_int64(), int64_t(7));
  // A hostile key is shown on one line, cut short.
  const std::string key = "\"a\\nb" + std::string(100, 'c') + "\"";
  const std::string message = error_of("{" + key + ":1," + key + ":2}");
  CHECK(message.rfind("JSON: duplicate key \"a\\nbccc", 0) == 0);
  CHECK_EQ(message.find('\n'), std::string::npos);
  CHECK(message.find("...") != std::string::npos);
}

TEST_CASE("a 200000-member object parses, and a duplicate at its end is found") {
  // A tokenizer.json vocab has ~128k members. A pairwise duplicate-key check would make ~2e10
  // key comparisons here (minutes, past ctest's timeout); no timing is asserted: speed is not a
  // unit test's business.
  std::string doc = "{";
  for (int i = 0; i < 200000; ++i) {
    if (i > 0) doc += ',';
    doc += "\"tok" + std::to_string(i) + "\":" + std::to_string(i);
  }
  Value v;
  const loam::Status st = loam::json::parse(doc + "}", v);
  REQUIRE(st.is_ok());
  CHECK_EQ(v.as_object().size(), size_t(200000));
  CHECK_EQ(v.as_object()[199999].first, std::string("tok199999"));
  CHECK(error_of(doc + ",\"tok123\":0}").rfind("JSON: duplicate key \"tok123\"", 0) == 0);
}

TEST_CASE("nesting deeper than max_depth is rejected without recursion trouble") {
  CHECK_EQ(error_of(std::string(64, '[') + std::string(64, ']')), std::string(""));
  CHECK_EQ(error_of(std::string(65, '[') + std::string(65, ']')),
           std::string("JSON: nesting deeper than 64 at byte 64"));
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += "{\"k\":";  // 5 bytes per level
  CHECK_EQ(error_of(objects), std::string("JSON: nesting deeper than 64 at byte 320"));
  CHECK_EQ(error_of(std::string(1000000, '[')),
           std::string("JSON: nesting deeper than 64 at byte 64"));
  std::string mixed;
  for (int i = 0; i < 500000; ++i) mixed += "[{\"a\":";  // 6 bytes per two levels
  CHECK_EQ(error_of(mixed), std::string("JSON: nesting deeper than 64 at byte 192"));
  ParseLimits two;
  two.max_depth = 2;
  CHECK_EQ(error_of("[[1]]", two), std::string(""));
  CHECK_EQ(error_of("[[[1]]]", two), std::string("JSON: nesting deeper than 2 at byte 2"));
  ParseLimits none;
  none.max_depth = 0;
  CHECK_EQ(error_of("\"scalar\"", none), std::string(""));
  CHECK(!error_of("[]", none).empty());
}

TEST_CASE("inputs over max_bytes are refused before parsing") {
  ParseLimits small;
  small.max_bytes = 10;
  CHECK_EQ(error_of("[1,2,3,4]", small), std::string(""));   // 9 bytes
  CHECK_EQ(error_of("[1,2,3,45]", small), std::string(""));  // 10 bytes
  CHECK_EQ(error_of("[1,2,3,456]", small),
           std::string("JSON: input is 11 bytes, more than the limit of 10"));
}

TEST_CASE("a failed parse leaves the output untouched") {
  Value v(5);
  CHECK(!loam::json::parse("[1,", v).is_ok());
  CHECK(v.is_integer());
  CHECK_EQ(v.as_int64(), int64_t(5));
}

// --- writer -------------------------------------------------------------------------------------

TEST_CASE("serialize writes compact JSON with exact integers and shortest doubles") {
  using loam::json::serialize;
  const Value doc = Value::object({
      {"s", "a\"b"},
      {"i", -3},
      {"big", std::numeric_limits<int64_t>::max()},
      {"exact", int64_t(9007199254740993LL)},
      {"d", 0.1},
      {"third", 1.0 / 3.0},
      {"e", 1e21},
      {"whole", 100.0},
      {"n", nullptr},
      {"t", true},
      {"f", false},
      {"arr", Value::array({1, 2.5, "x"})},
      {"o", Value::object()},
      {"a", Value::array()},
  });
  CHECK_EQ(serialize(doc),
           std::string("{\"s\":\"a\\\"b\",\"i\":-3,\"big\":9223372036854775807,"
                       "\"exact\":9007199254740993,\"d\":0.1,\"third\":0.3333333333333333,"
                       "\"e\":1e+21,\"whole\":100,\"n\":null,\"t\":true,\"f\":false,"
                       "\"arr\":[1,2.5,\"x\"],\"o\":{},\"a\":[]}"));
  CHECK_EQ(serialize(Value(-0.0)), std::string("-0"));
  CHECK_EQ(serialize(Value(5e-324)), std::string("5e-324"));
  CHECK_EQ(serialize(Value(std::numeric_limits<int64_t>::min())),
           std::string("-9223372036854775808"));
  CHECK_EQ(serialize(Value(std::nan(""))), std::string("null"));
  CHECK_EQ(serialize(Value(std::numeric_limits<double>::infinity())), std::string("null"));
  CHECK_EQ(serialize(Value(-std::numeric_limits<double>::infinity())), std::string("null"));
  CHECK_EQ(serialize(Value("\xC0")), std::string("\"\xEF\xBF\xBD\""));
  CHECK_EQ(serialize(Value(uint8_t(200))), std::string("200"));
  CHECK(Value(uint64_t(1) << 63).is_number() && !Value(uint64_t(1) << 63).is_integer());
}

TEST_CASE("serialize(parse(x)) is compact and stable") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {" { \"a\" : [ 1 , 2.50 , -0 , 1E2 ] , \"b\" : \"\\u00e9\\n\\/\" , \"c\" : { } } ",
       "{\"a\":[1,2.5,-0,100],\"b\":\"\xC3\xA9\\n/\",\"c\":{}}"},
      {"[9007199254740993, -9223372036854775808, 1.7976931348623157e308, 5e-324]",
       "[9007199254740993,-9223372036854775808,1.7976931348623157e+308,5e-324]"},
      {"{\"emoji\":\"\\ud83d\\ude00\",\"ctl\":\"\\u0001\\u001F\",\"nested\":[[[]],{\"x\":null}]}",
       "{\"emoji\":\"\xF0\x9F\x98\x80\",\"ctl\":\"\\u0001\\u001f\","
       "\"nested\":[[[]],{\"x\":null}]}"},
      {"\"\\u0000\"", "\"\\u0000\""},
      {"true", "true"},
  };
  for (const Case& c : cases) {
    const std::string once = loam::json::serialize(parsed(c.in));
    CHECK_EQ(once, std::string(c.out));
    CHECK_EQ(loam::json::serialize(parsed(once)), once);
  }
}

// --- hostile input ------------------------------------------------------------------------------

TEST_CASE("hostile input: 20000 seeded mutations parse or fail cleanly") {
  const std::vector<std::string> seeds = {
      R"({"prompt": "Hello \u00e9\ud83d\ude00", "max_tokens": 128, "temperature": 0.7,
          "stop": ["\n", "</s>"], "seed": -9223372036854775808, "stream": false, "x": null})",
      R"([[1, 2.5e-3, -0, 1E+2], {"a": {"b": [true, false, null]}}, "\"\\\/\b\f\n\r\t"])",
      R"({"model": {"vocab": {"a": 0, "b": 1, "\u0120the": 2}, "merges": ["a b", ["c", "d"]]}})",
      "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"",
  };
  const std::vector<std::string> pieces = {
      "[", "]", "{", "}", ",", ":", "\"", "\\", "\\u", "\\ud83d", "\\ude00", "\\u00", "0", "-",
      ".", "e", "1e400", "1e-400", "9223372036854775808", "true", "nul", " ", "\n", "\t",
      std::string(1, '\0'), "\x1f", "\x7f", "\x80", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
      "\xE2\x82", "\xFF", "\xEF\xBB\xBF", "/*", "'", "\"a\":1,", "[[[[[[[[", "{\"a\":{\"a\":",
  };
  SplitMix rng{2026};
  int parsed_ok = 0, failed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string doc = seeds[rng.below(seeds.size())];
    const size_t n_mutations = 1 + rng.below(4);
    for (size_t m = 0; m < n_mutations; ++m) {
      const size_t pos = rng.below(doc.size() + 1);
      switch (rng.below(6)) {
        case 0:  // overwrite one byte with anything
          if (pos < doc.size()) doc[pos] = static_cast<char>(rng.below(256));
          break;
        case 1:  // insert a piece of syntax or a bad byte sequence
          doc.insert(pos, pieces[rng.below(pieces.size())]);
          break;
        case 2:  // delete a short range
          doc.erase(pos, rng.below(8));
          break;
        case 3: {  // repeat a range (brackets, keys, escapes)
          const std::string chunk = doc.substr(pos, rng.below(32));
          for (size_t k = 0, reps = 1 + rng.below(40); k < reps; ++k) doc.insert(pos, chunk);
          break;
        }
        case 4:  // truncate
          doc.resize(pos);
          break;
        default:  // swap two bytes
          if (!doc.empty()) std::swap(doc[rng.below(doc.size())], doc[rng.below(doc.size())]);
      }
    }
    Value v;
    const loam::Status st = loam::json::parse(doc, v);
    if (st) {
      ++parsed_ok;
      // What parsed must write out as valid UTF-8 and read back to the same text.
      const std::string out = loam::json::serialize(v);
      REQUIRE(loam::json::is_valid_utf8(out));
      Value again;
      REQUIRE(loam::json::parse(out, again).is_ok());
      REQUIRE(loam::json::serialize(again) == out);
    } else {
      ++failed;
      const std::string& msg = st.message();
      REQUIRE(msg.rfind("JSON: ", 0) == 0);
      REQUIRE(msg.find('\n') == std::string::npos);
      REQUIRE(loam::json::is_valid_utf8(msg));
      const size_t at = msg.rfind(" at byte ");
      if (at != std::string::npos) {
        const unsigned long long offset = std::strtoull(msg.c_str() + at + 9, nullptr, 10);
        REQUIRE(offset <= doc.size());
      }
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the reader.
  CHECK(parsed_ok > 500);
  CHECK(failed > 5000);
}
