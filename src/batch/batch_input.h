// `loam batch` input: one JSON object per line, each a request to generate (a prompt or a chat
// conversation, optional sampling overrides). The reader is strict: a line that is not valid
// JSON, has a field of the wrong type or an unknown field becomes an error record for that line
// only, so one bad line never stops the rest.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "loam/sampler.h"
#include "loam/status.h"

namespace loam::batch {

// How generation of one line is set up: the command-line flags give the defaults, the line's own
// fields override them.
struct GenerationSettings {
  int n_predict = -1;        // -1: until end of generation or the context is full
  int repeat_last_n = 64;    // -1: the whole context
  SamplerParams sampling;    // repeat_last_n in here is ignored (see above)
  bool seed_given = false;   // the line had its own "seed"
  std::vector<std::string> stop;
};

struct ChatTurn {
  std::string role;
  std::string content;
};

struct BatchRequest {
  json::Value id;                  // string or number; the line number when the line has none
  std::string prompt;              // when !has_messages
  bool has_messages = false;
  std::vector<ChatTurn> messages;  // when has_messages
  GenerationSettings settings;
};

// Bounds on what one line may ask for, so a hostile file cannot make a line cost more than its
// own error record.
struct InputLimits {
  size_t max_line_bytes = size_t(16) << 20;
  size_t max_depth = 16;        // JSON nesting (a request needs 3: object, messages, message)
  size_t max_stop_strings = 16;
  size_t max_stop_bytes = 1024; // per stop string
};

// True for a line holding only JSON whitespace: such lines are skipped (no record).
bool is_blank_line(std::string_view line);

// Parses one input line (without its '\n') numbered `line_number` (1-based). `out.settings`
// starts from `defaults`. On failure returns a one-line message naming the field at fault;
// `out.id` is then the line's id when one could be read, else the line number, so the error
// record can still be matched to its line.
Status parse_request(std::string_view line, uint64_t line_number,
                     const GenerationSettings& defaults, const InputLimits& limits,
                     BatchRequest& out);

// Reads lines of at most `max_bytes` bytes from a FILE, without ever holding more than that of a
// longer line: the rest of it is skipped and the line reported as too long.
class LineReader {
 public:
  LineReader(std::FILE* file, size_t max_bytes) : file_(file), max_bytes_(max_bytes) {}

  enum class Result { kLine, kTooLong, kEnd, kError };
  // kLine: `line` holds the next line without its '\n'. kTooLong: the line was skipped.
  // kEnd: no more input. kError: reading failed (errno from the FILE).
  Result next(std::string& line);
  // Number (1-based) of the line last returned by next().
  uint64_t line_number() const { return line_number_; }
  // Whether the line last returned ended with '\n' (false only for a final line cut short).
  bool terminated() const { return terminated_; }
  // Bytes consumed so far, including newlines.
  uint64_t offset() const { return offset_; }

 private:
  bool fill();

  std::FILE* file_;
  size_t max_bytes_;
  std::vector<char> buffer_ = std::vector<char>(size_t(1) << 16);
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  uint64_t line_number_ = 0;
  uint64_t offset_ = 0;
  bool terminated_ = true;
};

}  // namespace loam::batch
