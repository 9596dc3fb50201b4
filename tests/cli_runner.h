// Runs the built `loam` binary (LOAM_BINARY) as a user would, with stdout and stderr captured in
// separate files, for the tests that check the command line.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/test.h"

extern char** environ;

namespace loam_cli_test {

struct Result {
  int code = -1;
  long max_rss_kib = 0;  // the child's peak resident memory
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

struct RunSpec {
  std::vector<std::string> args;
  std::string stdin_text;
  std::string cwd;                      // empty: inherit
  std::vector<std::string> extra_env;   // "NAME=value"
};

// fork + exec with stdin from a file and stdout/stderr into files: no pipes, so no deadlock
// however much the child writes. LOAM_MODEL is removed unless the spec sets it, and a variable
// the spec sets replaces the inherited one (CI may run the suite with LOAM_ISA set).
inline Result run(const RunSpec& spec) {
  static int counter = 0;
  const std::string base = loam_test::temp_dir() + "/run" + std::to_string(counter++);
  const std::string in_path = base + ".in", out_path = base + ".out", err_path = base + ".err";
  write_file(in_path, spec.stdin_text);

  std::vector<std::string> env;
  auto overridden = [&spec](const char* e) {
    if (std::strncmp(e, "LOAM_MODEL=", 11) == 0) return true;
    for (const std::string& x : spec.extra_env) {
      const size_t eq = x.find('=');
      if (std::strncmp(e, x.c_str(), eq + 1) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e != nullptr; ++e) {
    if (!overridden(*e)) env.emplace_back(*e);
  }
  for (const std::string& e : spec.extra_env) env.push_back(e);
  std::vector<char*> envp, argv;
  for (std::string& e : env) envp.push_back(&e[0]);
  envp.push_back(nullptr);
  std::string binary = LOAM_BINARY;
  argv.push_back(&binary[0]);
  std::vector<std::string> args = spec.args;
  for (std::string& a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);

  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  Result r;
  int status = 0;
  struct rusage usage {};
  if (pid > 0 && wait4(pid, &status, 0, &usage) == pid) {
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.max_rss_kib = usage.ru_maxrss;
  }
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

inline Result run(std::vector<std::string> args) {
  RunSpec spec;
  spec.args = std::move(args);
  return run(spec);
}

}  // namespace loam_cli_test
