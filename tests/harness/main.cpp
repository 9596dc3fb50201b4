#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "test.h"

#ifndef LOAM_SOURCE_DIR
#define LOAM_SOURCE_DIR "."
#endif

namespace loam_test {

namespace {
int g_failures_in_case = 0;
}

std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

int register_case(const char* name, std::function<void()> fn) {
  registry().push_back({name, std::move(fn)});
  return 0;
}

void record_failure(const char* file, int line, const std::string& what) {
  ++g_failures_in_case;
  std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
}

static bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

static bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string shared_dir() {
  if (const char* env = std::getenv("LOAM_SHARED")) return is_dir(env) ? env : "";
  const std::string beside = std::string(LOAM_SOURCE_DIR) + "/../shared";
  return is_dir(beside) ? beside : "";
}

std::string shared_file(const std::string& relative) {
  const std::string dir = shared_dir();
  const std::string path = dir + "/" + relative;
  struct stat st;
  if (dir.empty() || stat(path.c_str(), &st) != 0) {
    const std::string msg = "shared fixture missing: " + relative + " (looked in " +
                            (dir.empty() ? std::string(LOAM_SOURCE_DIR) + "/../shared" : dir) +
                            ")";
    if (in_ci()) {
      record_failure(__FILE__, __LINE__, msg);
      throw StopCase{};
    }
    throw SkipCase{msg};
  }
  return path;
}

std::string temp_dir() {
  static std::string dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/loam-test-XXXXXX";
    const char* made = mkdtemp(tmpl);
    dir = made ? made : "/tmp";
  }
  return dir;
}

}  // namespace loam_test

int main(int argc, char** argv) {
  using namespace loam_test;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0, skipped = 0, matched = 0;
  for (const Case& c : registry()) {
    if (filter && std::strstr(c.name, filter) == nullptr) continue;
    ++matched;
    g_failures_in_case = 0;
    const auto t0 = std::chrono::steady_clock::now();
    bool skip = false;
    std::string skip_reason;
    try {
      c.fn();
    } catch (const StopCase&) {
    } catch (const SkipCase& s) {
      skip = true;
      skip_reason = s.reason;
    } catch (const std::exception& e) {
      record_failure(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (skip && g_failures_in_case == 0) {
      ++skipped;
      std::fprintf(stderr, "SKIP %s (%s)\n", c.name, skip_reason.c_str());
    } else if (g_failures_in_case == 0) {
      ++passed;
      std::fprintf(stderr, "ok   %s (%.0f ms)\n", c.name, ms);
    } else {
      ++failed;
      std::fprintf(stderr, "FAIL %s\n", c.name);
    }
  }
  std::fprintf(stderr, "%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  // A filter with a typo (or a renamed case) must not pass as "0 passed"; all cases skipped is
  // fine (a fixture or CPU feature missing outside CI), no case selected is not.
  if (matched == 0) {
    if (filter)
      std::fprintf(stderr, "FAIL no test case name contains \"%s\" (%zu cases)\n", filter,
                   registry().size());
    else
      std::fprintf(stderr, "FAIL no test case registered\n");
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
