// The Llama-3-shaped fixture (../shared/models/l3-tiny-f16.gguf: byte-level BPE, rope scaling,
// GQA 4:1, tied embeddings) through the `loam` binary as a new user would drive it: run, tokenize
// and logits against golden/llama3/l3-tiny-f16.p1 (issue 10's acceptance).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"
#include "reference/golden_files.h"
#include "reference/run_engine.h"

using loam_cli_test::Result;
using loam_cli_test::run;
using loam_test::golden::Golden;

namespace {

std::string model_path() { return loam_test::shared_file("models/l3-tiny-f16.gguf"); }

Golden the_golden() {
  const std::vector<Golden> goldens = loam_test::golden::read_goldens("l3-tiny-f16");
  REQUIRE(goldens.size() == 1);
  return goldens[0];
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

}  // namespace

TEST_CASE("shared: l3-tiny: run --temp 0 prints the golden continuation") {
  const Golden g = the_golden();
  const Result r = run(std::vector<std::string>{"run", "-m", model_path(), "-p", g.prompt_text,
                                                "-n", std::to_string(g.generated.size()), "--temp",
                                                "0"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, g.text + "\n");
  if (r.out != g.text + "\n") std::fprintf(stderr, "  stderr: %s", r.err.c_str());
}

TEST_CASE("shared: l3-tiny: tokenize gives the golden prompt tokens") {
  const Golden g = the_golden();
  const Result r =
      run(std::vector<std::string>{"tokenize", "-m", model_path(), g.prompt_text, "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, join_ids(g.prompt) + "\n");
}

TEST_CASE("shared: l3-tiny: logits of the golden tokens match its rows") {
  const Golden g = the_golden();
  std::vector<int32_t> ids = g.prompt;
  ids.insert(ids.end(), g.generated.begin(), g.generated.end());
  const std::string out = loam_test::temp_dir() + "/l3-logits.f32";
  const Result r = run(std::vector<std::string>{"logits", "-m", model_path(), "--tokens",
                                                join_ids(ids), "-o", out});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string());
  const std::string raw = loam_test::golden::read_text(out);
  const size_t V = static_cast<size_t>(g.n_vocab), rows = 1 + g.generated.size();
  REQUIRE(raw.size() == ids.size() * V * sizeof(float));
  // Ours from the last prompt position on (the golden's row 0); the F16 golden limit per row.
  std::vector<float> got(rows * V);
  std::memcpy(got.data(), raw.data() + (g.prompt.size() - 1) * V * sizeof(float),
              got.size() * sizeof(float));
  double worst = 0;
  for (size_t row = 0; row < rows; ++row) {
    const loam_test::RowStats s = loam_test::row_stats(&got[row * V], &g.logits[row * V], V);
    worst = std::max(worst, s.rel_rms);
    CHECK(s.rel_rms <= 5e-3);
  }
  std::fprintf(stderr, "  loam logits on l3-tiny: worst rel RMS %.3g over %zu rows\n", worst, rows);
}
