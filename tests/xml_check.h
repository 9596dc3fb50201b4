// A small XML 1.0 well-formedness checker for tests, header-only, that also returns the element
// tree so that a test can look for elements and attributes without matching raw text.
//
// It checks: an XML declaration at the very start (with a version); valid UTF-8 made only of
// characters XML allows; properly nested, matched tags; names; attribute values in quotes, with
// whitespace between attributes and no name twice in one tag; references limited to the five
// predefined entities and numeric character references of allowed characters; no raw '<' in
// attribute values, no raw '&' anywhere, no "]]>" in text; comments without "--"; exactly one
// root element, with only whitespace, comments and processing instructions around it.
// Not supported (reported as errors): DOCTYPE declarations, which our documents never carry.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "text/utf8.h"

namespace xml_check {

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // references expanded
  std::vector<Element> children;
  std::string text;  // character data directly inside (not in children), references expanded

  // The attribute's value, or nullptr when absent.
  const std::string* attribute(const std::string& key) const {
    for (const auto& a : attributes)
      if (a.first == key) return &a.second;
    return nullptr;
  }
  std::string attribute_or(const std::string& key, const std::string& fallback) const {
    const std::string* v = attribute(key);
    return v ? *v : fallback;
  }
  // Text of this element and all its descendants, in document order.
  std::string all_text() const {
    std::string s = text;
    for (const Element& c : children) s += c.all_text();
    return s;
  }
};

struct Result {
  bool ok = false;
  std::string error;  // what is wrong and at which byte offset, when !ok
  Element root;
};

namespace detail {


// XML 1.0 production [2] Char.
inline bool is_xml_char(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

class Parser {
 public:
  explicit Parser(const std::string& doc) : s_(doc) {}

  Result run() {
    Result r;
    if (check_characters() && declaration() && misc() && element_tree(r.root) && misc() &&
        pos_ != s_.size())
      fail("content after the root element");
    r.ok = error_.empty();
    r.error = error_;
    return r;
  }

 private:
  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(pos_);
    return false;
  }
  bool at(const char* lit) const {
    return s_.compare(pos_, std::char_traits<char>::length(lit), lit) == 0;
  }
  bool eof() const { return pos_ >= s_.size(); }
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  bool skip_space() {
    const size_t start = pos_;
    while (!eof() && is_space(s_[pos_])) ++pos_;
    return pos_ > start;
  }

  // The whole document: valid UTF-8 of allowed characters only.
  bool check_characters() {
    for (size_t i = 0; i < s_.size();) {
      const unsigned char c = static_cast<unsigned char>(s_[i]);
      int len = c < 0x80             ? 1
                : (c & 0xE0) == 0xC0 ? 2
                : (c & 0xF0) == 0xE0 ? 3
                : (c & 0xF8) == 0xF0 ? 4
                                     : 0;
      if (len == 0 || i + len > s_.size()) return pos_ = i, fail("invalid UTF-8");
      uint32_t cp = len == 1 ? c : c & (0x7F >> len);
      for (int k = 1; k < len; ++k) {
        const unsigned char cc = static_cast<unsigned char>(s_[i + k]);
        if ((cc & 0xC0) != 0x80) return pos_ = i, fail("invalid UTF-8");
        cp = (cp << 6) | (cc & 0x3F);
      }
      static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len]) return pos_ = i, fail("overlong UTF-8");
      if (!is_xml_char(cp)) return pos_ = i, fail("character not allowed in XML");
      i += len;
    }
    return true;
  }

  bool name(std::string& out) {
    const size_t start = pos_;
    while (!eof()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      const bool first_ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
      const bool rest_ok = (c >= '0' && c <= '9') || c == '-' || c == '.';
      if (!(first_ok || (pos_ > start && rest_ok))) break;
      ++pos_;
    }
    if (pos_ == start) return fail("expected a name");
    out = s_.substr(start, pos_ - start);
    return true;
  }

  // At '&': appends the referenced character.
  bool reference(std::string& out) {
    const size_t semi = s_.find(';', pos_);
    if (semi == std::string::npos || semi - pos_ > 12) return fail("'&' not starting a reference");
    const std::string ref = s_.substr(pos_ + 1, semi - pos_ - 1);
    if (ref == "amp")
      out += '&';
    else if (ref == "lt")
      out += '<';
    else if (ref == "gt")
      out += '>';
    else if (ref == "quot")
      out += '"';
    else if (ref == "apos")
      out += '\'';
    else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return fail("empty character reference");
      uint32_t cp = 0;
      for (char d : digits) {
        int v = d >= '0' && d <= '9'   ? d - '0'
                : !hex                 ? -1
                : d >= 'a' && d <= 'f' ? d - 'a' + 10
                : d >= 'A' && d <= 'F' ? d - 'A' + 10
                                       : -1;
        if (v < 0) return fail("bad character reference &" + ref + ";");
        cp = cp * (hex ? 16 : 10) + v;
        if (cp > 0x10FFFF) return fail("character reference out of range");
      }
      if (!is_xml_char(cp)) return fail("character reference to a character XML does not allow");
      loam::utf8::append(out, cp);
    } else {
      return fail("unknown entity &" + ref + ";");
    }
    pos_ = semi + 1;
    return true;
  }

  // <?xml version="1.0" encoding="UTF-8"?> at byte 0.
  bool declaration() {
    if (!at("<?xml") || pos_ + 5 >= s_.size() || !is_space(s_[pos_ + 5]))
      return fail("the document does not start with an XML declaration");
    pos_ += 5;
    std::vector<std::pair<std::string, std::string>> attrs;
    if (!attributes(attrs, "?>")) return false;
    if (attrs.empty() || attrs[0].first != "version" || attrs[0].second.rfind("1.", 0) != 0)
      return fail("XML declaration without version 1.x first");
    for (const auto& a : attrs)
      if (a.first != "version" && a.first != "encoding" && a.first != "standalone")
        return fail("unknown pseudo-attribute " + a.first + " in the XML declaration");
    pos_ += 2;
    return true;
  }

  // Attributes up to (not past) `end` (">" or "/>" or "?>").
  bool attributes(std::vector<std::pair<std::string, std::string>>& attrs, const char* end) {
    for (;;) {
      const bool spaced = skip_space();
      if (eof()) return fail("unterminated tag");
      if (at(end) || (end[0] == '>' && at("/>"))) return true;
      if (!spaced) return fail("expected whitespace between attributes");
      std::string key, value;
      if (!name(key)) return false;
      skip_space();
      if (eof() || s_[pos_] != '=') return fail("attribute " + key + " without '='");
      ++pos_;
      skip_space();
      if (eof() || (s_[pos_] != '"' && s_[pos_] != '\''))
        return fail("attribute " + key + " value not quoted");
      const char quote = s_[pos_++];
      while (!eof() && s_[pos_] != quote) {
        if (s_[pos_] == '<') return fail("raw '<' in attribute " + key);
        if (s_[pos_] == '&') {
          if (!reference(value)) return false;
        } else {
          value += s_[pos_++];
        }
      }
      if (eof()) return fail("unterminated attribute value");
      ++pos_;
      for (const auto& a : attrs)
        if (a.first == key) return fail("duplicate attribute " + key);
      attrs.emplace_back(key, value);
    }
  }

  bool comment() {  // at "<!--"
    const size_t end = s_.find("--", pos_ + 4);
    if (end == std::string::npos) return fail("unterminated comment");
    if (s_.compare(end, 3, "-->") != 0) return pos_ = end, fail("'--' inside a comment");
    pos_ = end + 3;
    return true;
  }

  bool processing_instruction() {  // at "<?"
    pos_ += 2;
    std::string target;
    if (!name(target)) return false;
    if (target.size() == 3 && (target[0] | 0x20) == 'x' && (target[1] | 0x20) == 'm' &&
        (target[2] | 0x20) == 'l')
      return fail("XML declaration not at the start");
    const size_t end = s_.find("?>", pos_);
    if (end == std::string::npos) return fail("unterminated processing instruction");
    pos_ = end + 2;
    return true;
  }

  // Whitespace, comments and processing instructions outside the root.
  bool misc() {
    for (;;) {
      skip_space();
      if (at("<!--")) {
        if (!comment()) return false;
      } else if (at("<?")) {
        if (!processing_instruction()) return false;
      } else if (at("<!DOCTYPE")) {
        return fail("DOCTYPE is not supported by this checker");
      } else {
        return true;
      }
    }
  }

  // The root element and everything inside it, with an explicit stack (no recursion limit).
  bool element_tree(Element& root) {
    if (eof() || s_[pos_] != '<' || at("</") || at("<!")) return fail("expected the root element");
    std::vector<Element> open;
    for (;;) {
      if (at("</")) {
        pos_ += 2;
        std::string end_name;
        if (!name(end_name)) return false;
        skip_space();
        if (eof() || s_[pos_] != '>') return fail("malformed end tag");
        if (end_name != open.back().name)
          return fail("end tag </" + end_name + "> does not match <" + open.back().name + ">");
        ++pos_;
        if (!close(open, root)) return true;
      } else if (at("<!--")) {
        if (!comment()) return false;
      } else if (at("<![CDATA[")) {
        const size_t end = s_.find("]]>", pos_ + 9);
        if (end == std::string::npos) return fail("unterminated CDATA section");
        open.back().text += s_.substr(pos_ + 9, end - pos_ - 9);
        pos_ = end + 3;
      } else if (at("<?")) {
        if (!processing_instruction()) return false;
      } else if (at("<")) {
        ++pos_;
        Element e;
        if (!name(e.name) || !attributes(e.attributes, ">")) return false;
        open.push_back(std::move(e));
        if (at("/>")) {
          pos_ += 2;
          if (!close(open, root)) return true;
        } else {
          ++pos_;
        }
      } else {
        if (eof()) return fail("unclosed element <" + open.back().name + ">");
        if (at("]]>")) return fail("']]>' in text");
        if (s_[pos_] == '&') {
          if (!reference(open.back().text)) return false;
        } else {
          open.back().text += s_[pos_++];
        }
      }
    }
  }

  // Pops the innermost element into its parent; returns false when that was the root.
  static bool close(std::vector<Element>& open, Element& root) {
    Element done = std::move(open.back());
    open.pop_back();
    if (open.empty()) {
      root = std::move(done);
      return false;
    }
    open.back().children.push_back(std::move(done));
    return true;
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace detail

inline Result parse(const std::string& doc) { return detail::Parser(doc).run(); }

// Every element named `name` (any name when empty) in `e`'s subtree, `e` included, in document
// order.
inline void find_all(const Element& e, const std::string& name, std::vector<const Element*>& out) {
  if (name.empty() || e.name == name) out.push_back(&e);
  for (const Element& c : e.children) find_all(c, name, out);
}

// Whether `e`'s class attribute lists `cls` among its space-separated names.
inline bool has_class(const Element& e, const std::string& cls) {
  const std::string* c = e.attribute("class");
  for (size_t start = 0; c != nullptr && start <= c->size();) {
    const size_t end = std::min(c->find(' ', start), c->size());
    if (c->compare(start, end - start, cls) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Every element in `root`'s subtree (root included) whose class lists `cls`, in document order.
inline std::vector<const Element*> with_class(const Element& root, const std::string& cls) {
  std::vector<const Element*> all, out;
  find_all(root, "", all);
  for (const Element* e : all)
    if (has_class(*e, cls)) out.push_back(e);
  return out;
}

}  // namespace xml_check
