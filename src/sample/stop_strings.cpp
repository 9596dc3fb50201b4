#include "sample/stop_strings.h"

#include <algorithm>
#include <utility>

namespace loam {

StopMatcher::StopMatcher(std::vector<std::string> stop_strings) {
  for (std::string& s : stop_strings) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

const std::string& StopMatcher::matched() const {
  static const std::string kNone;
  return matched_ >= 0 ? stops_[static_cast<size_t>(matched_)] : kNone;
}

std::string StopMatcher::push(const std::string& text) {
  if (stopped()) return "";
  if (stops_.empty()) return text;
  // The held tail never contains a whole stop string (it would have stopped), so searching the
  // joined text finds every match that this piece completes; the earliest start wins, because
  // the text must end before the first stop string the reader would see.
  std::string buffer = std::move(held_);
  held_.clear();
  buffer += text;
  size_t first = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t at = buffer.find(stops_[i]);
    if (at < first) {
      first = at;
      matched_ = static_cast<int>(i);
    }
  }
  if (first != std::string::npos) {
    buffer.resize(first);
    return buffer;
  }
  // Hold back the longest tail that some stop string starts with (e.g. stop "aab" over "aaa"
  // holds "aa"): only the next piece can tell whether it completes. Shorter candidate tails are
  // inside the longest one, so keeping the longest keeps them all.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, buffer.size());
    for (size_t len = max_len; len > keep; --len) {
      if (buffer.compare(buffer.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  held_ = buffer.substr(buffer.size() - keep);
  buffer.resize(buffer.size() - keep);
  return buffer;
}

std::string StopMatcher::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace loam
