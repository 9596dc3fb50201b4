// The test harness itself (tests/harness/main.cpp): a name filter that selects no case fails the
// run, while a run whose every selected case skipped still passes. This executable runs itself
// (/proc/self/exe) with a filter; the child is marked by kChildEnv, and the case that spawns
// children refuses to run in a child, so a filter that selected it could not recurse.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "harness/test.h"

namespace {

constexpr const char* kChildEnv = "LOAM_TEST_HARNESS_CHILD";

bool in_child() { return std::getenv(kChildEnv) != nullptr; }

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct ChildRun {
  int code = -1;       // exit code, or -1 when the child did not exit normally
  std::string output;  // its stderr and stdout
};

// This executable again, with argv[1] = filter.
ChildRun run_self(const std::string& filter) {
  ChildRun r;
  const std::string exe = self_path();
  if (exe.empty()) return r;
  const std::string cmd = std::string(kChildEnv) + "=1 " + shell_quote(exe) + " " +
                          shell_quote(filter) + " 2>&1";
  std::fflush(nullptr);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, got);
  const int status = pclose(p);
  if (status != -1 && WIFEXITED(status)) r.code = WEXITSTATUS(status);
  return r;
}

}  // namespace

// Selected only by the child runs below: in the parent's own run it passes without doing anything.
TEST_CASE("harness: only-skipped child case") {
  if (in_child()) SKIP("the harness test's child run, where every selected case skips");
}

TEST_CASE("harness: a filter matching no case fails; all cases skipped passes") {
  REQUIRE(!in_child());  // a child never spawns another
  const ChildRun none = run_self("no case is named like this");
  CHECK_EQ(none.code, 1);
  CHECK(none.output.find("0 passed, 0 failed, 0 skipped") != std::string::npos);
  CHECK(none.output.find("no test case name contains \"no case is named like this\"") !=
        std::string::npos);

  const ChildRun skipped = run_self("only-skipped child case");
  CHECK_EQ(skipped.code, 0);
  CHECK(skipped.output.find("0 passed, 0 failed, 1 skipped") != std::string::npos);
  if (none.code != 1 || skipped.code != 0)
    std::fprintf(stderr, "  child output:\n%s%s", none.output.c_str(), skipped.output.c_str());
}
