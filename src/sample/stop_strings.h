// Stop strings: generation ends where one of the user's strings appears in the decoded text, even
// when it spans several tokens. The text before it is printed; the stop string and anything after
// it are not. Used by `loam run --stop` and `loam batch` (per-line "stop" lists).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace loam {

// Fed the decoded text piece by piece (any split: whole tokens, single bytes, UTF-8 fragments),
// it returns the part that can be printed now. A tail that could still be the start of a stop
// string is held back until the next piece decides it. Matching is on bytes, so a stop string
// that begins inside a multi-byte character held back by the StreamDecoder (or fed byte by byte)
// is found the same way.
//
//   StopMatcher stop({"\n\n", "User:"});
//   for each token: out += stop.push(decoder.push(prev, id)); if (stop.stopped()) break;
//   at the end (EOS, -n, context full): out += stop.push(decoder.flush()) + stop.flush();
class StopMatcher {
 public:
  StopMatcher() = default;
  // Empty strings are ignored (they would match before any text).
  explicit StopMatcher(std::vector<std::string> stop_strings);

  // Returns the text that is safe to emit. Once a stop string is complete, returns the text up
  // to its first byte, stopped() becomes true and later pushes return "".
  std::string push(const std::string& text);
  // Generation ended without a stop string: returns (and forgets) the held-back tail.
  std::string flush();

  bool stopped() const { return matched_ >= 0; }
  // The stop string that ended the text ("" while not stopped).
  const std::string& matched() const;
  bool empty() const { return stops_.empty(); }
  // Bytes currently held back (at most the longest stop string minus one).
  size_t held() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;  // tail of the text that is a proper prefix of some stop string
  int matched_ = -1;  // index into stops_ of the stop string found, -1: none yet
};

}  // namespace loam
