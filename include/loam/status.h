// Errors as values. Library code never prints or exits: it returns a Status whose message names
// the file, tensor or field at fault; only src/cli/ turns it into a message and an exit code.
#pragma once

#include <string>
#include <utility>

namespace loam {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

}  // namespace loam

// Propagates a failed Status to the caller.
#define LOAM_TRY(expr)                        \
  do {                                        \
    ::loam::Status loam_try_status_ = (expr); \
    if (!loam_try_status_) return loam_try_status_; \
  } while (0)
