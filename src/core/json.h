// A strict JSON (RFC 8259) reader and a compact writer, for bench rows, `loam batch` requests
// (untrusted input, one object per line), config.json and tokenizer.json.
//
// The reader accepts exactly one value with optional whitespace (space, tab, LF, CR) around it and
// rejects everything the RFC does not allow: comments, trailing commas, leading zeros, NaN and
// Infinity, single quotes, raw control characters in strings, lone or mis-ordered \u surrogates,
// invalid UTF-8 anywhere (overlong forms, encoded surrogates, code points above U+10FFFF,
// truncated sequences), a byte order mark, duplicate keys in one object, and numbers too large
// for a double. A number too small for a double (1e-400) reads as zero of its sign. Parsing takes
// time linear in the input; it recurses once per nesting level, bounded by ParseLimits::max_depth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "loam/status.h"

namespace loam::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // members in document order

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  // Implicit constructors so that documents can be written as
  //   Value::object({{"model", "tiny"}, {"tokens", 128}, {"tok_per_s", 41.5}, {"ok", true}}).
  Value() = default;  // null
  Value(std::nullptr_t) {}
  // A template so that a pointer (say, the result of find()) does not silently become a bool.
  template <class T, std::enable_if_t<std::is_same_v<T, bool>, int> = 0>
  Value(T b) : data_(b) {}
  // Integers are stored exactly; an unsigned value above INT64_MAX becomes an inexact double.
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Value(T i) {
    if (std::is_signed_v<T> || static_cast<uint64_t>(i) <= uint64_t(INT64_MAX)) {
      data_ = Number{static_cast<double>(i), static_cast<int64_t>(i), true};
    } else {
      data_ = Number{static_cast<double>(i), 0, false};
    }
  }
  // NaN and infinities can be stored but serialize() writes them as null (as JavaScript does).
  Value(double d) : data_(Number{d, 0, false}) {}
  Value(float f) : Value(static_cast<double>(f)) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(std::string_view s) : data_(std::string(s)) {}
  Value(Array items) : data_(std::move(items)) {}
  Value(Object members) : data_(std::move(members)) {}
  static Value array(Array items = {}) { return Value(std::move(items)); }
  static Value object(Object members = {}) { return Value(std::move(members)); }

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_number() const { return type() == Type::Number; }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }
  // A number that is an exact int64: parsed from text with no fraction or exponent that fits
  // int64 (so 9007199254740993 stays exact), or built from an integer type. "-0" is not one
  // (int64 has no negative zero): it reads as the double -0.0.
  bool is_integer() const {
    const Number* n = std::get_if<Number>(&data_);
    return n != nullptr && n->is_integer;
  }

  // Accessors never fail: on a value of another type they return false, 0, "" or an empty
  // array/object, so that a hostile document of the wrong shape reads as empty rather than
  // crashing. Check the type first where the difference matters.
  bool as_bool() const {
    const bool* b = std::get_if<bool>(&data_);
    return b != nullptr && *b;
  }
  // The nearest double, also for integers.
  double as_number() const {
    const Number* n = std::get_if<Number>(&data_);
    return n != nullptr ? n->value : 0.0;
  }
  // Exact when is_integer(), else 0.
  int64_t as_int64() const { return is_integer() ? std::get<Number>(data_).integer : 0; }
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;
  // The member named `key` of an object, or nullptr (also when this is not an object). A linear
  // scan: to look up many keys of a large object (a 128k-entry vocab), walk as_object() once.
  const Value* find(std::string_view key) const;

 private:
  struct Number {
    double value;
    int64_t integer;  // meaningful only when is_integer
    bool is_integer;
  };
  // Alternatives in the order of Type, so that index() is the type.
  std::variant<std::monostate, bool, Number, std::string, Array, Object> data_;
};

struct ParseLimits {
  // Deepest nesting of arrays and objects. config.json and tokenizer.json nest under 8 levels.
  // Parsing, destroying and serializing recurse once per level (a few hundred bytes of stack
  // each), so keep it in the hundreds.
  size_t max_depth = 64;
  // Largest input. The largest common tokenizer.json (Gemma 3) is about 33 MB. A Value tree can
  // take ~20x its text ("[0,0,0,...]" is 2 bytes per 40-byte Value), so a reader of untrusted
  // input (a `loam batch` line) should set its own, smaller limit.
  size_t max_bytes = size_t(64) << 20;
  // Longest number literal. The shortest text that round-trips a double has at most 24 chars;
  // 128 leaves room for writers that print more digits, and bounds the decimal conversion.
  size_t max_number_chars = 128;
};

// Parses `text` into `out`. On failure returns a one-line message that says what and where, e.g.
// "JSON: expected ',' or '}' at byte 17, found 'x'" (byte offsets count from 0); `out` is then
// left unchanged.
Status parse(std::string_view text, Value& out, const ParseLimits& limits = {});

// True when `s` is well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no encoded
// surrogates, nothing above U+10FFFF, no truncated sequences).
bool is_valid_utf8(std::string_view s);

// `s` as a JSON string literal with its quotes: '"' and '\\' escaped, control characters as
// \b \f \n \r \t or \u00XX, other text (valid UTF-8, DEL included) copied as is. Each maximal
// subpart of an ill-formed UTF-8 sequence becomes one U+FFFD (the Unicode standard's
// recommended practice), so the result is always valid UTF-8 and valid JSON.
std::string quote(std::string_view s);

// Compact one-line JSON: no spaces, members in stored order (not checked for duplicates),
// integers exactly, other numbers in the shortest form that reads back to the same double,
// NaN and infinities as null, strings through quote().
std::string serialize(const Value& value);

}  // namespace loam::json
