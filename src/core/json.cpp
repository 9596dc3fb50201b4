#include "core/json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_set>

#include "text/utf8.h"

namespace loam::json {

// --- Value accessors ----------------------------------------------------------------------------

const std::string& Value::as_string() const {
  static const std::string kEmpty;
  const std::string* s = std::get_if<std::string>(&data_);
  return s != nullptr ? *s : kEmpty;
}

const Array& Value::as_array() const {
  static const Array kEmpty;
  const Array* a = std::get_if<Array>(&data_);
  return a != nullptr ? *a : kEmpty;
}

const Object& Value::as_object() const {
  static const Object kEmpty;
  const Object* o = std::get_if<Object>(&data_);
  return o != nullptr ? *o : kEmpty;
}

const Value* Value::find(std::string_view key) const {
  const Object* o = std::get_if<Object>(&data_);
  if (o == nullptr) return nullptr;
  for (const Member& m : *o) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

namespace {

// --- UTF-8 --------------------------------------------------------------------------------------

// Length (1..4) of the well-formed UTF-8 sequence at p, or minus the length (1..3) of its maximal
// subpart when it is ill-formed: the longest prefix that could still begin a well-formed sequence
// (Unicode Table 3-7 and "U+FFFD Substitution of Maximal Subparts"). n >= 1 bytes are readable.
int utf8_sequence(const unsigned char* p, size_t n) {
  const unsigned lead = p[0];
  if (lead < 0x80) return 1;
  int len = 0;
  // Only the second byte has a range narrower than 80..BF; the narrowing is what excludes
  // overlong forms (E0, F0), encoded surrogates (ED) and code points above U+10FFFF (F4).
  unsigned lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return -1;  // 80..C1 (continuation or overlong lead) and F5..FF never start a sequence
  }
  for (int i = 1; i < len; ++i) {
    if (static_cast<size_t>(i) >= n) return -i;
    const unsigned b = p[i];
    if (b < lo || b > hi) return -i;
    lo = 0x80;
    hi = 0xBF;
  }
  return len;
}

// Printable ASCII other than '"' and '\\': the bytes a string copies without a second look, both
// when reading and when writing. A table keeps the hot loop over a 10 MB tokenizer.json to one
// load and one branch per byte.
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

const char kHexDigits[] = "0123456789abcdef";

void append_quoted(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  out.reserve(out.size() + n + 2);
  out += '"';
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (kPlain[c]) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const int len = utf8_sequence(p + i, n - i);
      if (len > 0) {
        i += static_cast<size_t>(len);
        continue;
      }
      out.append(s.data() + run, i - run);
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += static_cast<size_t>(-len);
      run = i;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHexDigits[c >> 4];
        out += kHexDigits[c & 15];
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, n - run);
  out += '"';
}

// --- reader -------------------------------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at p (caller checked they are readable), or -1.
int32_t read_hex4(const char* p) {
  int32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = hex_value(p[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Recursive descent, one C++ frame per nesting level (bounded by max_depth). Each function
// returns false after recording the first error in error_.
class Parser {
 public:
  Parser(std::string_view text, const ParseLimits& limits)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), limits_(limits) {}

  Status run(Value& out);

 private:
  bool parse_value(Value& out, size_t depth);
  // Steps over '[' or '{' and the whitespace after it, unless that nests too deep.
  bool enter(size_t depth);
  // After an element or member: steps over ',' (refusing a trailing one) or over `close`, which
  // sets `closed`.
  bool after_item(char close, bool& closed);
  bool parse_array(Value& out, size_t depth);
  bool parse_object(Value& out, size_t depth);
  bool check_unique_keys(const Object& members, const std::vector<size_t>& key_offsets);
  bool parse_string(std::string& out);
  bool parse_escape(std::string& out);
  bool parse_number(Value& out);
  bool parse_literal(std::string_view word, Value value, Value& out);

  void skip_whitespace() {
    while (p_ < end_ && is_space(*p_)) ++p_;
  }
  bool at(char c) const { return p_ < end_ && *p_ == c; }
  size_t offset(const char* p) const { return static_cast<size_t>(p - begin_); }
  // The byte at p for a message: 'x' when printable ASCII, else its hex value.
  std::string describe(const char* p) const {
    if (p >= end_) return "end of input";
    const unsigned c = static_cast<unsigned char>(*p);
    if (c > 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    return std::string("byte 0x") + kHexDigits[c >> 4] + kHexDigits[c & 15];
  }
  bool fail(const std::string& what, const char* where) {
    error_ = "JSON: " + what + " at byte " + std::to_string(offset(where));
    return false;
  }
  bool fail_expected(const std::string& what) {
    error_ = "JSON: expected " + what + " at byte " + std::to_string(offset(p_)) + ", found " +
             describe(p_);
    return false;
  }

  const char* begin_;
  const char* p_;  // the next byte to read
  const char* end_;
  const ParseLimits& limits_;
  std::string error_;
};

Status Parser::run(Value& out) {
  const size_t size = offset(end_);
  if (size > limits_.max_bytes) {
    return Status::error("JSON: input is " + std::to_string(size) +
                         " bytes, more than the limit of " + std::to_string(limits_.max_bytes));
  }
  // RFC 8259 lets a reader ignore a byte order mark; rejecting it by name is clearer than the
  // "found byte 0xEF" it would otherwise get.
  if (size >= 3 && std::memcmp(begin_, "\xEF\xBB\xBF", 3) == 0) {
    return Status::error("JSON: byte order mark at byte 0 (not allowed)");
  }
  skip_whitespace();
  if (p_ == end_) return Status::error("JSON: empty input");
  Value value;
  if (!parse_value(value, 0)) return Status::error(error_);
  skip_whitespace();
  if (p_ != end_) {
    fail("unexpected " + describe(p_) + " after the value", p_);
    return Status::error(error_);
  }
  out = std::move(value);
  return Status::ok();
}

bool Parser::parse_value(Value& out, size_t depth) {
  if (p_ == end_) return fail_expected("a value");
  switch (*p_) {
    case '[': return parse_array(out, depth + 1);
    case '{': return parse_object(out, depth + 1);
    case '"': {
      std::string s;
      if (!parse_string(s)) return false;
      out = Value(std::move(s));
      return true;
    }
    case 't': return parse_literal("true", Value(true), out);
    case 'f': return parse_literal("false", Value(false), out);
    case 'n': return parse_literal("null", Value(), out);
    default:
      if (*p_ == '-' || is_digit(*p_)) return parse_number(out);
      return fail_expected("a value");
  }
}

bool Parser::parse_literal(std::string_view word, Value value, Value& out) {
  if (std::string_view(p_, static_cast<size_t>(end_ - p_)).substr(0, word.size()) != word) {
    return fail("invalid literal (expected true, false or null)", p_);
  }
  p_ += word.size();
  out = std::move(value);
  return true;
}

bool Parser::enter(size_t depth) {
  if (depth > limits_.max_depth) {
    return fail("nesting deeper than " + std::to_string(limits_.max_depth), p_);
  }
  ++p_;  // '[' or '{'
  skip_whitespace();
  return true;
}

bool Parser::after_item(char close, bool& closed) {
  skip_whitespace();
  if (at(close)) {
    ++p_;
    closed = true;
    return true;
  }
  if (!at(',')) return fail_expected(std::string("',' or '") + close + "'");
  const char* comma = p_++;
  skip_whitespace();
  if (at(close)) return fail(std::string("trailing comma before '") + close + "'", comma);
  return true;
}

bool Parser::parse_array(Value& out, size_t depth) {
  if (!enter(depth)) return false;
  Array items;
  bool closed = at(']');
  if (closed) ++p_;
  while (!closed) {
    items.emplace_back();
    if (!parse_value(items.back(), depth) || !after_item(']', closed)) return false;
  }
  out = Value(std::move(items));
  return true;
}

bool Parser::parse_object(Value& out, size_t depth) {
  if (!enter(depth)) return false;
  Object members;
  std::vector<size_t> key_offsets;  // [members.size()] where each key starts, for the message
  bool closed = at('}');
  if (closed) ++p_;
  while (!closed) {
    if (!at('"')) return fail_expected("a string key");
    key_offsets.push_back(offset(p_));
    members.emplace_back();
    if (!parse_string(members.back().first)) return false;
    skip_whitespace();
    if (!at(':')) return fail_expected("':'");
    ++p_;
    skip_whitespace();
    if (!parse_value(members.back().second, depth) || !after_item('}', closed)) return false;
  }
  if (!check_unique_keys(members, key_offsets)) return false;
  out = Value(std::move(members));
  return true;
}

// Checked once the object is complete, so that the key strings no longer move and can be viewed:
// a pairwise scan for small objects, a hash set for large ones (a 128k-entry vocab must not be
// quadratic). Reports the first key, in document order, that repeats an earlier one.
bool Parser::check_unique_keys(const Object& members, const std::vector<size_t>& key_offsets) {
  const size_t n = members.size();
  size_t duplicate = n;
  if (n <= 16) {
    for (size_t i = 1; i < n && duplicate == n; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (members[i].first == members[j].first) {
          duplicate = i;
          break;
        }
      }
    }
  } else {
    std::unordered_set<std::string_view> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (!seen.insert(members[i].first).second) {
        duplicate = i;
        break;
      }
    }
  }
  if (duplicate == n) return true;
  // quote() keeps a hostile key to one line; the cut keeps the message short.
  constexpr size_t kShownKeyBytes = 64;
  const std::string& key = members[duplicate].first;
  std::string shown = quote(std::string_view(key).substr(0, kShownKeyBytes));
  if (key.size() > kShownKeyBytes) shown += "...";
  return fail("duplicate key " + shown, begin_ + key_offsets[duplicate]);
}

bool Parser::parse_string(std::string& out) {
  const char* open = p_;
  ++p_;  // '"'
  for (;;) {
    const char* run = p_;
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (kPlain[c]) {
        ++p_;
      } else if (c >= 0x80) {
        const int len = utf8_sequence(reinterpret_cast<const unsigned char*>(p_),
                                      static_cast<size_t>(end_ - p_));
        if (len < 0) break;
        p_ += len;
      } else {
        break;
      }
    }
    out.append(run, static_cast<size_t>(p_ - run));
    if (p_ == end_) {
      return fail("unterminated string (opened at byte " + std::to_string(offset(open)) + ")", p_);
    }
    const auto c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c == '\\') {
      if (!parse_escape(out)) return false;
    } else if (c < 0x20) {
      return fail("raw control character " + describe(p_) + " in string", p_);
    } else {
      return fail("invalid UTF-8", p_);
    }
  }
}

bool Parser::parse_escape(std::string& out) {
  const char* escape = p_;
  ++p_;  // '\\'
  if (p_ == end_) return fail("unterminated string", p_);
  const char e = *p_++;
  switch (e) {
    case '"': out += '"'; return true;
    case '\\': out += '\\'; return true;
    case '/': out += '/'; return true;
    case 'b': out += '\b'; return true;
    case 'f': out += '\f'; return true;
    case 'n': out += '\n'; return true;
    case 'r': out += '\r'; return true;
    case 't': out += '\t'; return true;
    case 'u': break;
    default: return fail("invalid escape character " + describe(p_ - 1), escape);
  }
  if (end_ - p_ < 4) return fail("invalid \\u escape (needs 4 hex digits)", escape);
  int32_t cp = read_hex4(p_);
  if (cp < 0) return fail("invalid \\u escape (needs 4 hex digits)", escape);
  p_ += 4;
  const std::string written(escape, 6);  // hex digits only: safe to quote in a message
  if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired low surrogate " + written, escape);
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    // A high surrogate is only valid immediately followed by an escaped low surrogate.
    const int32_t low = end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' ? read_hex4(p_ + 2) : -1;
    if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired high surrogate " + written, escape);
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    p_ += 6;
  }
  utf8::append(out, static_cast<uint32_t>(cp));
  return true;
}

// Whether a decimal literal that from_chars found out of range is too large (|value| >= 1) rather
// than too small: from_chars reports both alike. The power of ten of the first non-zero digit,
// plus the exponent, is >= 0 exactly when |value| >= 1. Saturating arithmetic: the exponent may
// have any number of digits.
bool is_overflow(const char* p, const char* end) {
  if (*p == '-') ++p;
  const char* int_end = p;
  while (int_end < end && is_digit(*int_end)) ++int_end;
  int64_t place = int_end - p - 1;  // the power of ten of the digit at q
  const char* q = p;
  for (; q < end && *q != 'e' && *q != 'E'; ++q) {
    if (*q == '.') continue;
    if (*q != '0') break;
    --place;
  }
  if (q == end || *q == 'e' || *q == 'E') return false;  // zero is never out of range
  while (q < end && *q != 'e' && *q != 'E') ++q;
  int64_t exponent = 0;
  if (q < end) {
    const bool negative = q[1] == '-';
    for (q += 1 + (q[1] == '+' || q[1] == '-'); q < end; ++q) {
      exponent = std::min<int64_t>(exponent * 10 + (*q - '0'), int64_t(1) << 40);
    }
    if (negative) exponent = -exponent;
  }
  return place + exponent >= 0;
}

bool Parser::parse_number(Value& out) {
  const char* start = p_;
  const bool negative = at('-');
  if (negative) ++p_;
  if (!(p_ < end_ && is_digit(*p_))) return fail_expected("a digit");
  const char* digits = p_;
  if (*p_ == '0') {
    ++p_;
    if (p_ < end_ && is_digit(*p_)) return fail("leading zero in number", start);
  } else {
    while (p_ < end_ && is_digit(*p_)) ++p_;
  }
  const char* int_end = p_;
  if (at('.')) {
    ++p_;
    if (!(p_ < end_ && is_digit(*p_))) return fail_expected("a digit after '.'");
    while (p_ < end_ && is_digit(*p_)) ++p_;
  }
  if (at('e') || at('E')) {
    ++p_;
    if (at('+') || at('-')) ++p_;
    if (!(p_ < end_ && is_digit(*p_))) return fail_expected("a digit in the exponent");
    while (p_ < end_ && is_digit(*p_)) ++p_;
  }
  const size_t length = static_cast<size_t>(p_ - start);
  if (length > limits_.max_number_chars) {
    const std::string limit = std::to_string(limits_.max_number_chars);
    return fail("number longer than " + limit + " characters", start);
  }
  // Integers are read exactly when they fit int64 (any 19 digits fit in a uint64).
  const size_t n_digits = static_cast<size_t>(int_end - digits);
  if (int_end == p_ && n_digits <= 19 && !(negative && n_digits == 1 && *digits == '0')) {
    uint64_t magnitude = 0;
    for (const char* d = digits; d < int_end; ++d) magnitude = magnitude * 10 + uint64_t(*d - '0');
    const uint64_t limit = negative ? uint64_t(1) << 63 : uint64_t(INT64_MAX);
    if (magnitude <= limit) {
      // -2^63 has no positive int64 counterpart, hence the detour through magnitude - 1.
      out = Value(negative ? -static_cast<int64_t>(magnitude - 1) - 1
                           : static_cast<int64_t>(magnitude));
      return true;
    }
  }
  // from_chars is exact (correctly rounded) and, unlike strtod, ignores the C locale.
  double value = 0.0;
  const std::from_chars_result r = std::from_chars(start, p_, value);
  if (r.ec == std::errc::result_out_of_range) {
    if (is_overflow(start, p_)) return fail("number out of range of a double", start);
    value = negative ? -0.0 : 0.0;  // underflow rounds to zero
  } else if (r.ec != std::errc() || r.ptr != p_) {
    return fail("unreadable number", start);  // not expected after the grammar check above
  }
  out = Value(value);
  return true;
}

// --- writer -------------------------------------------------------------------------------------

void write_value(const Value& v, std::string& out) {
  switch (v.type()) {
    case Value::Type::Null: out += "null"; return;
    case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Type::Number: {
      if (!v.is_integer() && !std::isfinite(v.as_number())) {
        out += "null";
        return;
      }
      // Integers exactly; other numbers in the shortest text that reads back to the same double
      // (the C++17 guarantee of to_chars without a precision).
      char buf[64];
      const std::to_chars_result r = v.is_integer()
                                         ? std::to_chars(buf, buf + sizeof buf, v.as_int64())
                                         : std::to_chars(buf, buf + sizeof buf, v.as_number());
      out.append(buf, r.ptr);
      return;
    }
    case Value::Type::String: append_quoted(out, v.as_string()); return;
    case Value::Type::Array: {
      out += '[';
      for (const Value& item : v.as_array()) {
        if (&item != &v.as_array().front()) out += ',';
        write_value(item, out);
      }
      out += ']';
      return;
    }
    case Value::Type::Object: {
      out += '{';
      for (const Member& m : v.as_object()) {
        if (&m != &v.as_object().front()) out += ',';
        append_quoted(out, m.first);
        out += ':';
        write_value(m.second, out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

Status parse(std::string_view text, Value& out, const ParseLimits& limits) {
  return Parser(text, limits).run(out);
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: most text (and all of a JSON document's syntax) is ASCII.
    if (n - i >= 8) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const int len = utf8_sequence(p + i, n - i);
    if (len < 0) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

std::string quote(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

std::string serialize(const Value& value) {
  std::string out;
  write_value(value, out);
  return out;
}

}  // namespace loam::json
