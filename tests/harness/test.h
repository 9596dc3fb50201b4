// The project's own minimal test harness: TEST_CASE registers a function; CHECK* record failures
// and go on; REQUIRE* stop the current case. Each test executable links harness/main.cpp, runs
// every case (or those whose name contains argv[1]) and exits non-zero if any failed or if none
// was selected (a filter that matches no case name).
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace loam_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};

std::vector<Case>& registry();
int register_case(const char* name, std::function<void()> fn);
void record_failure(const char* file, int line, const std::string& what);

// Thrown by REQUIRE and SKIP to leave the current case.
struct StopCase {};
struct SkipCase {
  std::string reason;
};

// Directory of the shared fixtures (../shared beside the repository, or $LOAM_SHARED).
// Returns "" when missing: outside CI the caller skips; in CI (CI=true) missing fixtures fail.
std::string shared_dir();
// Returns the path of a fixture under shared_dir(), or skips / fails the case when absent.
std::string shared_file(const std::string& relative);
// A fresh empty directory for this test process's temporary files.
std::string temp_dir();

template <class A, class B>
std::string describe_pair(const A& a, const B& b) {
  std::ostringstream os;
  os << a << " vs " << b;
  return os.str();
}

}  // namespace loam_test

#define LOAM_CAT2(a, b) a##b
#define LOAM_CAT(a, b) LOAM_CAT2(a, b)
#define TEST_CASE(name)                                                                   \
  static void LOAM_CAT(loam_test_fn_, __LINE__)();                                       \
  static const int LOAM_CAT(loam_test_reg_, __LINE__) =                                  \
      ::loam_test::register_case(name, &LOAM_CAT(loam_test_fn_, __LINE__));              \
  static void LOAM_CAT(loam_test_fn_, __LINE__)()

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) ::loam_test::record_failure(__FILE__, __LINE__, #cond);   \
  } while (0)
#define REQUIRE(cond)                                                      \
  do {                                                                     \
    if (!(cond)) {                                                         \
      ::loam_test::record_failure(__FILE__, __LINE__, #cond);              \
      throw ::loam_test::StopCase{};                                       \
    }                                                                      \
  } while (0)
#define CHECK_EQ(a, b)                                                                   \
  do {                                                                                   \
    const auto& loam_a_ = (a);                                                           \
    const auto& loam_b_ = (b);                                                           \
    if (!(loam_a_ == loam_b_))                                                           \
      ::loam_test::record_failure(__FILE__, __LINE__,                                    \
                                  std::string(#a " == " #b ": ") +                       \
                                      ::loam_test::describe_pair(loam_a_, loam_b_));     \
  } while (0)
#define CHECK_NEAR(a, b, tol)                                                            \
  do {                                                                                   \
    const double loam_a_ = (a), loam_b_ = (b);                                           \
    if (!(std::fabs(loam_a_ - loam_b_) <= (tol)))                                        \
      ::loam_test::record_failure(__FILE__, __LINE__,                                    \
                                  std::string(#a " ~= " #b ": ") +                       \
                                      ::loam_test::describe_pair(loam_a_, loam_b_));     \
  } while (0)
#define SKIP(reason) throw ::loam_test::SkipCase{reason}
