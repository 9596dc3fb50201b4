#include "batch/batch_input.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace loam::batch {

namespace {

std::string where(uint64_t line_number) { return "line " + std::to_string(line_number) + ": "; }

// A short description of a JSON value's type for "must be X, got Y" messages.
const char* type_name(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::Null: return "null";
    case json::Value::Type::Bool: return "a boolean";
    case json::Value::Type::Number: return v.is_integer() ? "an integer" : "a number";
    case json::Value::Type::String: return "a string";
    case json::Value::Type::Array: return "an array";
    case json::Value::Type::Object: return "an object";
  }
  return "?";
}

Status wrong(const std::string& field, const std::string& expected, const json::Value& got) {
  return Status::error("'" + field + "' must be " + expected + ", got " + type_name(got) +
                       (got.is_number() || got.is_bool() ? " " + json::serialize(got) : ""));
}

Status read_int(const json::Value& v, const std::string& field, int64_t min_value,
                int64_t max_value, int64_t& out) {
  const std::string expected = "an integer in [" + std::to_string(min_value) + ", " +
                               std::to_string(max_value) + "]";
  if (!v.is_integer() || v.as_int64() < min_value || v.as_int64() > max_value) {
    return wrong(field, expected, v);
  }
  out = v.as_int64();
  return Status::ok();
}

Status read_float(const json::Value& v, const std::string& field, double min_value,
                  double max_value, float& out) {
  if (!v.is_number() || !(v.as_number() >= min_value && v.as_number() <= max_value)) {
    char range[96];
    std::snprintf(range, sizeof(range), "a number in [%g, %g]", min_value, max_value);
    return wrong(field, range, v);
  }
  out = static_cast<float>(v.as_number());
  return Status::ok();
}

Status read_messages(const json::Value& v, std::vector<ChatTurn>& out) {
  if (!v.is_array() || v.as_array().empty()) return wrong("messages", "a non-empty array", v);
  out.clear();
  const json::Array& items = v.as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string name = "messages[" + std::to_string(i) + "]";
    if (!items[i].is_object()) return wrong(name, "an object with role and content", items[i]);
    ChatTurn turn;
    bool has_role = false, has_content = false;
    for (const json::Member& m : items[i].as_object()) {
      if (m.first == "role") {
        if (!m.second.is_string()) return wrong(name + ".role", "a string", m.second);
        turn.role = m.second.as_string();
        if (turn.role != "system" && turn.role != "user" && turn.role != "assistant") {
          return Status::error("'" + name + ".role' must be system, user or assistant, got " +
                               json::quote(turn.role));
        }
        has_role = true;
      } else if (m.first == "content") {
        if (!m.second.is_string()) return wrong(name + ".content", "a string", m.second);
        turn.content = m.second.as_string();
        has_content = true;
      } else {
        return Status::error("unknown field " + json::quote(m.first) + " in " + name +
                             " (expected role, content)");
      }
    }
    if (!has_role || !has_content) {
      return Status::error("'" + name + "' needs both role and content");
    }
    out.push_back(std::move(turn));
  }
  return Status::ok();
}

Status read_stop(const json::Value& v, const InputLimits& limits, std::vector<std::string>& out) {
  if (!v.is_array()) return wrong("stop", "an array of strings", v);
  const json::Array& items = v.as_array();
  if (items.size() > limits.max_stop_strings) {
    return Status::error("'stop' has " + std::to_string(items.size()) + " strings, at most " +
                         std::to_string(limits.max_stop_strings) + " are allowed");
  }
  out.clear();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string name = "stop[" + std::to_string(i) + "]";
    if (!items[i].is_string()) return wrong(name, "a string", items[i]);
    const std::string& s = items[i].as_string();
    if (s.empty()) return Status::error("'" + name + "' is empty (it would match at once)");
    if (s.size() > limits.max_stop_bytes) {
      return Status::error("'" + name + "' is " + std::to_string(s.size()) + " bytes, at most " +
                           std::to_string(limits.max_stop_bytes) + " are allowed");
    }
    out.push_back(s);
  }
  return Status::ok();
}

// Applies one member of the request object to `out`.
Status read_member(const json::Member& m, const InputLimits& limits, BatchRequest& out,
                   bool& has_prompt) {
  const std::string& key = m.first;
  const json::Value& v = m.second;
  GenerationSettings& s = out.settings;
  int64_t i = 0;
  if (key == "id") return Status::ok();  // read before the other members
  if (key == "prompt") {
    if (!v.is_string()) return wrong(key, "a string", v);
    out.prompt = v.as_string();
    has_prompt = true;
    return Status::ok();
  }
  if (key == "messages") {
    out.has_messages = true;
    return read_messages(v, out.messages);
  }
  if (key == "n_predict") {
    LOAM_TRY(read_int(v, key, -1, INT_MAX, i));
    s.n_predict = static_cast<int>(i);
    return Status::ok();
  }
  if (key == "temperature") return read_float(v, key, -1e30, 1e30, s.sampling.temp);
  if (key == "top_k") {
    LOAM_TRY(read_int(v, key, 0, INT_MAX, i));
    s.sampling.top_k = static_cast<int>(i);
    return Status::ok();
  }
  if (key == "top_p") return read_float(v, key, 0.0, 1.0, s.sampling.top_p);
  if (key == "min_p") return read_float(v, key, 0.0, 1.0, s.sampling.min_p);
  if (key == "repeat_penalty") {
    LOAM_TRY(read_float(v, key, 0.0, 1e30, s.sampling.repeat_penalty));
    if (!(s.sampling.repeat_penalty > 0.0f)) return wrong(key, "a number > 0", v);
    return Status::ok();
  }
  if (key == "repeat_last_n") {
    LOAM_TRY(read_int(v, key, -1, INT_MAX, i));
    s.repeat_last_n = static_cast<int>(i);
    return Status::ok();
  }
  if (key == "seed") {
    LOAM_TRY(read_int(v, key, 0, INT64_MAX, i));
    s.sampling.seed = static_cast<uint64_t>(i);
    s.seed_given = true;
    return Status::ok();
  }
  if (key == "stop") return read_stop(v, limits, s.stop);
  return Status::error("unknown field " + json::quote(key) +
                       " (expected id, prompt, messages, n_predict, temperature, top_k, top_p, "
                       "min_p, repeat_penalty, repeat_last_n, seed, stop)");
}

}  // namespace

bool is_blank_line(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

Status parse_request(std::string_view line, uint64_t line_number,
                     const GenerationSettings& defaults, const InputLimits& limits,
                     BatchRequest& out) {
  out = BatchRequest{};
  out.id = json::Value(line_number);
  out.settings = defaults;
  json::ParseLimits parse_limits;
  parse_limits.max_depth = limits.max_depth;
  parse_limits.max_bytes = limits.max_line_bytes;
  json::Value doc;
  if (Status st = json::parse(line, doc, parse_limits); !st) {
    return Status::error(where(line_number) + st.message());
  }
  if (!doc.is_object()) {
    return Status::error(where(line_number) + "expected a JSON object, got " + type_name(doc));
  }
  // The id first, so that an error in any other field is reported under the line's own id.
  if (const json::Value* id = doc.find("id")) {
    if (!id->is_string() && !id->is_number()) {
      return Status::error(where(line_number) + wrong("id", "a string or a number", *id).message());
    }
    out.id = *id;
  }
  bool has_prompt = false;
  for (const json::Member& m : doc.as_object()) {
    if (Status st = read_member(m, limits, out, has_prompt); !st) {
      return Status::error(where(line_number) + st.message());
    }
  }
  if (has_prompt && out.has_messages) {
    return Status::error(where(line_number) + "give 'prompt' or 'messages', not both");
  }
  if (!has_prompt && !out.has_messages) {
    return Status::error(where(line_number) + "the line has neither 'prompt' nor 'messages'");
  }
  SamplerParams check = out.settings.sampling;
  check.repeat_last_n = std::max(out.settings.repeat_last_n, 0);
  if (Status st = validate_sampler_params(check); !st) {
    return Status::error(where(line_number) + st.message());
  }
  return Status::ok();
}

bool LineReader::fill() {
  if (eof_ || error_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
  const size_t n = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_);
  end_ += n;
  if (n == 0) {
    if (std::ferror(file_)) {
      error_ = true;
    } else {
      eof_ = true;
    }
    return false;
  }
  return true;
}

LineReader::Result LineReader::next(std::string& line) {
  line.clear();
  size_t scanned = 0;       // bytes of buffer_[begin_..) known to hold no '\n'
  uint64_t skipped = 0;     // bytes of a too-long line already dropped
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* nl = std::memchr(start + scanned, '\n', end_ - begin_ - scanned);
    if (nl != nullptr) {
      const size_t len = static_cast<const char*>(nl) - start;
      ++line_number_;
      offset_ += len + 1;
      terminated_ = true;
      const bool too_long = skipped > 0 || len > max_bytes_;
      if (!too_long) line.assign(start, len);
      begin_ += len + 1;
      return too_long ? Result::kTooLong : Result::kLine;
    }
    scanned = end_ - begin_;
    if (scanned > max_bytes_) {
      // Keep memory bounded: drop what is buffered of this line and go on looking for its end.
      skipped += scanned;
      offset_ += scanned;
      begin_ = end_ = 0;
      scanned = 0;
    }
    if (!fill()) {
      if (error_) return Result::kError;
      if (end_ == begin_ && skipped == 0) return Result::kEnd;
      // A last line without '\n'.
      const size_t len = end_ - begin_;
      ++line_number_;
      offset_ += len;
      terminated_ = false;
      const bool too_long = skipped > 0 || len > max_bytes_;
      if (!too_long) line.assign(buffer_.data() + begin_, len);
      begin_ = end_ = 0;
      return too_long ? Result::kTooLong : Result::kLine;
    }
  }
}

}  // namespace loam::batch
