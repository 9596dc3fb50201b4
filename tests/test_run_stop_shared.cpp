// `loam run --stop` on a real model (../shared/models/aidreams260K.gguf): greedy generation is
// the golden continuation of ../shared/golden/aidreams260K.p1, so the expected output is that
// text cut before the stop string, by hand here, independent of the code under test.
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"

using namespace loam_cli_test;

namespace {

// The golden continuation of "Once upon a time" (greedy, 100 tokens).
std::string golden_text() { return slurp(loam_test::shared_file("golden/aidreams260K.p1.text")); }

Result run_with_stops(const std::vector<std::string>& stops) {
  std::vector<std::string> args = {"run", "-m", loam_test::shared_file("models/aidreams260K.gguf"),
                                   "-p", "Once upon a time", "-n", "100", "--temp", "0"};
  for (const std::string& s : stops) {
    args.push_back("--stop");
    args.push_back(s);
  }
  return run(args);
}

// The golden text up to the first occurrence of `stop` (which the test requires to occur).
std::string cut_before(const std::string& text, const std::string& stop) {
  const size_t at = text.find(stop);
  REQUIRE(at != std::string::npos);
  return text.substr(0, at);
}

}  // namespace

TEST_CASE("shared: run --stop ends the golden text before a stop string spanning tokens") {
  const std::string golden = golden_text();
  // "kaleidoscope" is several tokens of the 512-token vocabulary; "olding like" starts inside
  // the word "unfolding" and spans the space.
  for (const std::string stop : {"kaleidoscope", "olding like", "Classification whispers"}) {
    const Result r = run_with_stops({stop});
    CHECK_EQ(r.code, 0);
    CHECK_EQ(r.out, cut_before(golden, stop) + "\n");
    CHECK(r.err.find("stop: stop string") != std::string::npos);
  }
}

TEST_CASE("shared: run with several --stop strings ends before the first that appears") {
  const std::string golden = golden_text();
  const Result r = run_with_stops({"whispers", "petals", "tapestry"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, cut_before(golden, "petals") + "\n");
}

TEST_CASE("shared: run --stop matching the very start prints nothing but the newline") {
  const Result r = run_with_stops({", pix"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string("\n"));
}

TEST_CASE("shared: run --stop that never appears prints the whole golden text") {
  const Result r = run_with_stops({"zebra", "Once upon"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, golden_text() + "\n");
  CHECK(r.err.find("stop: n-predict reached") != std::string::npos);
}

TEST_CASE("run --stop with an empty string is a usage error") {
  const Result r = run({"run", "-m", "whatever.gguf", "--stop", ""});
  CHECK_EQ(r.code, 2);
  CHECK_EQ(r.out, std::string());
  CHECK(r.err.find("--stop expects a non-empty string") != std::string::npos);
}

TEST_CASE("shared: run --stop on multi-byte characters (llama-2-tiny-random.gguf, 32000 vocab)") {
  // The greedy continuation of "Hello world, this is a test." (golden p1, 24 tokens) contains
  // " También" (one token, with "é" = C3 A9 inside it) and the Thai "โ" (E0 B9 82, one token):
  // stop strings that begin inside a token at a multi-byte character, span into the next token,
  // or are that character alone. (Stop strings that begin inside a UTF-8 fragment held back
  // between byte tokens are covered byte by byte in test_stop_strings.)
  const std::string text = slurp(loam_test::shared_file("golden/llama-2-tiny-random.p1.text"));
  for (const std::string stop : {"\xE0\xB9\x82 zes", "\xC3\xA9n player", "\xE0\xB9\x82"}) {
    const Result r = run({"run", "-m", loam_test::shared_file("models/llama-2-tiny-random.gguf"),
                          "-p", "Hello world, this is a test.", "-n", "24", "--temp", "0",
                          "--stop", stop});
    CHECK_EQ(r.code, 0);
    CHECK_EQ(r.out, cut_before(text, stop) + "\n");
  }
}
