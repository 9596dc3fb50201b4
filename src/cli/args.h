// A small table-driven command-line parser shared by the subcommands: each option is declared once
// with its names, value name, help line and destination; the same table prints --help.
// Accepts "-m X", "--model X", "--model=X", flags, "--" (everything after is positional), and a
// lone "-" as a positional (stdin). Values are taken verbatim, so "-s -1" works.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loam/status.h"

namespace loam::cli {

class ArgParser {
 public:
  // `usage` is the synopsis after "usage: "; `about` a paragraph printed under it.
  ArgParser(std::string command, std::string usage, std::string about);

  // Declares options. short_name may be "" (long only). Range errors are usage errors that name
  // the flag, e.g. "-n expects an integer >= -1, got 'x'".
  void flag(const std::string& short_name, const std::string& long_name, const std::string& help,
            bool* out);
  void text(const std::string& short_name, const std::string& long_name,
            const std::string& metavar, const std::string& help, std::string* out);
  void integer(const std::string& short_name, const std::string& long_name,
               const std::string& metavar, const std::string& help, int* out, int min_value,
               int max_value);
  void number(const std::string& short_name, const std::string& long_name,
              const std::string& metavar, const std::string& help, float* out, float min_value,
              float max_value);
  // Any other value type: `set` parses the value and fails with a message for a bad one.
  void custom(const std::string& short_name, const std::string& long_name,
              const std::string& metavar, const std::string& help,
              std::function<Status(const std::string& value)> set);
  // Positional arguments collected in order; `metavar` and `help` describe them in --help.
  void positionals(const std::string& metavar, const std::string& help,
                   std::vector<std::string>* out, size_t max_count);
  // A line printed after the option list (examples, notes).
  void epilog(const std::string& text) { epilog_ = text; }

  enum class Outcome { kOk, kHelp, kError };
  // Parses argv[first..argc). kHelp: -h/--help was given (help_text() is for stdout).
  // kError: error() holds a one-line message.
  Outcome parse(int argc, char** argv, int first);

  bool given(const std::string& long_name) const;  // whether the option appeared
  const std::string& error() const { return error_; }
  std::string help_text() const;
  const std::string& command() const { return command_; }

 private:
  struct Option {
    std::string short_name;
    std::string long_name;
    std::string metavar;  // empty for flags
    std::string help;
    std::function<Status(const std::string& value)> set;
    bool given = false;
  };

  Option* find(const std::string& name);
  void add(Option opt);

  std::string command_;
  std::string usage_;
  std::string about_;
  std::string epilog_;
  std::vector<Option> options_;
  std::string positional_metavar_;
  std::string positional_help_;
  std::vector<std::string>* positionals_ = nullptr;
  size_t max_positionals_ = 0;
  std::string error_;
};

// Strict number parsing: the whole string must be the number, within the type's range.
bool parse_int64(const std::string& s, int64_t& out);
bool parse_uint64(const std::string& s, uint64_t& out);
bool parse_float(const std::string& s, float& out);  // finite values only

}  // namespace loam::cli
