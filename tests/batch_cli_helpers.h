// Helpers shared by the `loam batch` end-to-end tests (test_batch_cli_shared.cpp and
// test_batch_resume_shared.cpp, split in two so that CTest runs them side by side): JSON-lines
// records, the output without its timing field, a batch run, synthetic prompt files and a child
// `loam` process that the resume tests signal mid-run.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "core/json.h"
#include "harness/test.h"

namespace loam_batch_test {

using namespace loam_cli_test;

inline std::string aidreams() { return loam_test::shared_file("models/aidreams260K.gguf"); }
inline std::string synth_q4() { return loam_test::shared_file("models/synth/synth-tiny-Q4_0.gguf"); }

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

inline loam::json::Value parse_record(const std::string& line) {
  loam::json::Value v;
  const loam::Status st = loam::json::parse(line, v);
  if (!st) {
    loam_test::record_failure(__FILE__, __LINE__, "not JSON: " + line + " (" + st.message() + ")");
    throw loam_test::StopCase{};
  }
  return v;
}

inline std::vector<loam::json::Value> records(const std::string& text) {
  std::vector<loam::json::Value> out;
  for (const std::string& line : split_lines(text)) out.push_back(parse_record(line));
  return out;
}

// The output without the timing field, the only one that may differ between runs.
// (Inside a text, quotes are escaped, so ,"ms": occurs only as the field.)
inline std::string without_ms(const std::string& text) {
  const std::string key = ",\"ms\":";
  std::string out;
  size_t from = 0;
  for (size_t at; (at = text.find(key, from)) != std::string::npos;) {
    out.append(text, from, at - from);
    from = text.find_first_of(",}", at + key.size());
    if (from == std::string::npos) return out;
  }
  out.append(text, from, std::string::npos);
  return out;
}

inline Result batch(const std::vector<std::string>& extra, const std::string& input) {
  RunSpec spec;
  spec.args = {"batch"};
  spec.args.insert(spec.args.end(), extra.begin(), extra.end());
  spec.stdin_text = input;
  return run(spec);
}

inline std::string golden_text() { return slurp(loam_test::shared_file("golden/aidreams260K.p1.text")); }

// Prompts for the synthetic model: varied lengths, sampling settings and stop lists.
inline std::string sampling_input(int n, int n_predict) {
  std::string in;
  for (int i = 0; i < n; ++i) {
    std::string line = "{\"id\":\"p" + std::to_string(i) + "\",\"prompt\":\"Once upon a time " +
                       std::string(static_cast<size_t>(i % 7) * 3, 'a') + " number " +
                       std::to_string(i) + "\",\"n_predict\":" + std::to_string(n_predict);
    if (i % 3 == 0) line += ",\"temperature\":0";
    if (i % 5 == 1) line += ",\"seed\":" + std::to_string(1000 + i);
    if (i % 4 == 2) line += ",\"top_k\":5,\"repeat_penalty\":1.3";
    in += line + "}\n";
  }
  return in;
}

// A child `loam` writing to files, for the tests that signal it mid-run.
struct Child {
  pid_t pid = -1;
  int wait_status = 0;
  bool waited = false;
  void start(const std::vector<std::string>& args, const std::string& err_path) {
    std::vector<std::string> a = args;
    std::string binary = LOAM_BINARY;
    std::vector<char*> argv = {&binary[0]};
    for (std::string& s : a) argv.push_back(&s[0]);
    argv.push_back(nullptr);
    std::fflush(nullptr);
    pid = fork();
    if (pid == 0) {
      FILE* err = std::freopen(err_path.c_str(), "w", stderr);
      if (err == nullptr) _exit(126);
      FILE* out = std::freopen("/dev/null", "w", stdout);
      if (out == nullptr) _exit(126);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  void wait() {
    if (!waited && pid > 0) waitpid(pid, &wait_status, 0);
    waited = true;
  }
};

}  // namespace loam_batch_test
