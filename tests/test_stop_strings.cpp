// StopMatcher on hand-written streams: the expected text is written out by hand for each case
// (the text before the first stop string, or all of it), whatever the split into pieces.
#include <string>
#include <vector>

#include "harness/test.h"
#include "sample/stop_strings.h"

using loam::StopMatcher;

namespace {

struct Outcome {
  std::string text;     // everything emitted, flush included when no stop string was found
  bool stopped = false;
  std::string matched;
};

Outcome feed(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Outcome o;
  for (const std::string& p : pieces) {
    o.text += m.push(p);
    if (m.stopped()) break;
  }
  if (!m.stopped()) o.text += m.flush();
  o.stopped = m.stopped();
  o.matched = m.matched();
  return o;
}

// The same text fed one byte at a time (splits every token and every UTF-8 character).
Outcome feed_bytes(const std::vector<std::string>& stops, const std::string& text) {
  std::vector<std::string> pieces;
  for (char c : text) pieces.emplace_back(1, c);
  return feed(stops, pieces);
}

}  // namespace

TEST_CASE("a stop string inside one piece ends the text before it") {
  const Outcome o = feed({"END"}, {"Hello END world"});
  CHECK_EQ(o.text, std::string("Hello "));
  CHECK(o.stopped);
  CHECK_EQ(o.matched, std::string("END"));
}

TEST_CASE("a stop string spanning three pieces; nothing after it is emitted") {
  StopMatcher m({"the end"});
  std::string out;
  out += m.push("It was th");
  CHECK_EQ(out, std::string("It was "));  // "th" could start "the end": held back
  CHECK_EQ(m.held(), size_t{2});
  out += m.push("e e");
  CHECK_EQ(out, std::string("It was "));
  CHECK(!m.stopped());
  out += m.push("nd. More");
  CHECK_EQ(out, std::string("It was "));
  CHECK(m.stopped());
  CHECK_EQ(m.push("after"), std::string(""));
  CHECK_EQ(m.flush(), std::string(""));
}

TEST_CASE("a held-back tail that turns out not to be a stop string is released") {
  StopMatcher m({"the end"});
  std::string out = m.push("at th");
  CHECK_EQ(out, std::string("at "));
  out += m.push("e start");
  CHECK_EQ(out, std::string("at the star"));  // the final "t" could start "the end"
  CHECK(!m.stopped());
  CHECK_EQ(m.held(), size_t{1});
  out += m.push("s");
  CHECK_EQ(out, std::string("at the starts"));
  CHECK_EQ(m.held(), size_t{0});
}

TEST_CASE("overlapping prefixes: stop 'aab' over 'aaab' emits 'a'") {
  CHECK_EQ(feed_bytes({"aab"}, "aaab").text, std::string("a"));
  CHECK(feed_bytes({"aab"}, "aaab").stopped);
  CHECK_EQ(feed({"aab"}, {"aa", "ab"}).text, std::string("a"));
  CHECK_EQ(feed({"aab"}, {"aaab"}).text, std::string("a"));
  // "abab" inside "ababab...": the first occurrence starts at 0 of "xababab" + 1
  CHECK_EQ(feed_bytes({"abac"}, "xabababac!").text, std::string("xabab"));
}

TEST_CASE("several stop strings: the one that starts first wins") {
  const Outcome o = feed({"world", "lo w"}, {"hel", "lo wor", "ld"});
  CHECK_EQ(o.text, std::string("hel"));
  CHECK_EQ(o.matched, std::string("lo w"));
  // "de" is complete first but starts later: the earlier start decides, whatever the split
  // (the reader of "abcdef" sees "bcdef" begin first).
  const Outcome p = feed({"bcdef", "de"}, {"abcd", "ef"});
  CHECK_EQ(p.text, std::string("a"));
  CHECK_EQ(p.matched, std::string("bcdef"));
  const Outcome q = feed({"bcdef", "de"}, {"abcdef"});
  CHECK_EQ(q.text, std::string("a"));
  CHECK_EQ(q.matched, std::string("bcdef"));
}

TEST_CASE("a stop string at the very start gives empty text") {
  const Outcome o = feed({"Once"}, {"On", "ce upon a time"});
  CHECK_EQ(o.text, std::string(""));
  CHECK(o.stopped);
  CHECK_EQ(feed_bytes({"\n"}, "\nabc").text, std::string(""));
}

TEST_CASE("no stop string: all the text comes out, the held tail at flush") {
  StopMatcher m({"xyz"});
  std::string out = m.push("abc x");
  CHECK_EQ(out, std::string("abc "));
  out += m.push("y");
  CHECK_EQ(out, std::string("abc "));
  out += m.flush();
  CHECK_EQ(out, std::string("abc xy"));
  CHECK(!m.stopped());
  CHECK_EQ(m.matched(), std::string(""));
}

TEST_CASE("no stop strings (or only empty ones) pass text straight through") {
  StopMatcher none;
  CHECK(none.empty());
  CHECK_EQ(none.push("abc"), std::string("abc"));
  StopMatcher empty_only({""});
  CHECK(empty_only.empty());
  CHECK_EQ(empty_only.push("abc"), std::string("abc"));
  CHECK(!empty_only.stopped());
}

TEST_CASE("multi-byte characters: stop strings with and inside UTF-8, fed byte by byte") {
  // "é" = C3 A9, "→" = E2 86 92, "😀" = F0 9F 98 80
  CHECK_EQ(feed_bytes({"é!"}, "caf\xC3\xA9! more").text, std::string("caf"));
  CHECK_EQ(feed_bytes({"\xE2\x86\x92"}, "a\xE2\x86\x92" "b").text, std::string("a"));
  // The stop string begins with the second half of a fragment a decoder would hold back: the
  // pieces split the 4-byte emoji 1+3 and the stop string is the emoji itself.
  const Outcome o = feed({"\xF0\x9F\x98\x80 end"}, {"smile \xF0", "\x9F\x98\x80", " end", "!"});
  CHECK_EQ(o.text, std::string("smile "));
  CHECK(o.stopped);
  // A character that shares a lead byte with the stop string but differs is released whole.
  const Outcome p = feed_bytes({"\xF0\x9F\x98\x80"}, "x\xF0\x9F\x98\x81y");
  CHECK_EQ(p.text, std::string("x\xF0\x9F\x98\x81y"));
  CHECK(!p.stopped);
  // Nothing emitted ends inside a character when the stop string is a whole character.
  StopMatcher m({"\xC3\xA9t\xC3\xA9"});
  CHECK_EQ(m.push("caf\xC3\xA9"), std::string("caf"));
  CHECK_EQ(m.push("s"), std::string("\xC3\xA9s"));
}
