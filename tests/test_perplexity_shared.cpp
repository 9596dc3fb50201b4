// `loam perplexity` on a real model (../shared/models/aidreams260K.gguf, training context 128):
//   - agrees within 1e-4 (relative) with the same computation done here from `loam logits` rows
//     (windows of -c tokens, BOS in place of each window's first token, log-softmax and the mean
//     negative log-likelihood of each window's second half, in double);
//   - is within 1% of llama.cpp's llama-perplexity on the same text and settings (a constant
//     recorded below with its command);
//   - --kl-divergence of a model against its own base file gives KL 0 and top-1 agreement 100%,
//     and a Q4_0 copy of synth-tiny-f32 against the F32 base gives KL > 0;
//   - bad inputs (short text, missing files, a base file that does not match) give one-line
//     errors.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"

using namespace loam_cli_test;

namespace {

// A TinyStories-style text of 739 tokens in aidreams260K's vocabulary (BOS included): 5 windows
// of 128. The trailing newline is dropped by -f, as llama.cpp does.
const char* const kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play in the park "
    "with her red ball. One day, the sun was warm and the sky was blue. Lily ran to the big "
    "tree and threw her ball high in the air. The ball flew over the tree and landed in the "
    "pond.\n"
    "Lily was sad. She did not know how to get her ball back. Then a friendly duck swam to "
    "the ball. The duck pushed the ball with its beak until it came to the shore. Lily "
    "smiled and said, \"Thank you, duck! You are a good friend.\"\n"
    "The duck quacked and swam away. Lily took her ball and went home to tell her mom. Her "
    "mom was happy and gave her a big hug. They had cookies and milk, and Lily told the "
    "story of the kind duck again and again.\n"
    "The next day, Lily went back to the park with some bread. She found the duck near the "
    "pond and gave it the bread. The duck was very happy. From that day on, Lily and the "
    "duck were best friends. They played together every day, and Lily never lost her ball in "
    "the pond again.\n"
    "One morning, Tom came to the park. Tom was a boy who lived next door. He had a blue "
    "kite. He wanted to fly it, but the wind was too weak. Lily said, \"Let us run "
    "together!\" They ran fast across the grass, and the kite went up, up, up into the sky. "
    "Tom laughed and Lily clapped her hands.\n";

// llama.cpp's llama-perplexity (unslothai/llama.cpp d32676d, the peer build in
// /work/peers/llama.cpp; CPU, 2 threads, default -b 2048) on kStory written to story.txt,
// measured 2026-12-05:
//   llama-perplexity -m ../shared/models/aidreams260K.gguf -f story.txt -c 128
// printed "[1]318.5829,[2]245.1577,[3]315.7085,[4]274.9184,[5]279.4590," and
// "Final estimate: PPL = 279.4590 +/- 44.46153".
constexpr double kLlamaCppPpl = 279.4590;
constexpr double kLlamaCppPplError = 44.46153;
constexpr double kLlamaCppRunning[5] = {318.5829, 245.1577, 315.7085, 274.9184, 279.4590};

// The same llama-perplexity on synth-tiny-f32.gguf and on the Q4_0 copy `loam quantize` writes
// (the test below makes the same file; quantization is deterministic):
//   llama-perplexity -m ../shared/models/synth/synth-tiny-f32.gguf -f story.txt -c 128
//       --kl-divergence-base lbase.kld
//   llama-perplexity -m synth-tiny-Q4_0.gguf -f story.txt -c 128 --kl-divergence-base lbase.kld
//       --kl-divergence
// printed "Mean    KLD:   0.058833 ±   0.000821" and "Same top p: 44.444 ± 2.804 %" (its base
// file keeps 16-bit log-probabilities; Loam's keeps f32).
constexpr double kLlamaCppSynthQ4Kld = 0.058833;

constexpr int kCtx = 128;
constexpr int32_t kBos = 1;  // aidreams260K's BOS id (`loam info`: bos 1 '<s>')

std::string model_path() { return loam_test::shared_file("models/aidreams260K.gguf"); }

std::string story_file() {
  const std::string path = loam_test::temp_dir() + "/story.txt";
  write_file(path, kStory);
  return path;
}

struct PplOutput {
  std::vector<double> running;  // [k] values
  double ppl = NAN;
  double error = NAN;
};

// Parses "[1]318.5876,[2]...,\nFinal estimate: PPL = X +/- Y\n".
PplOutput parse_ppl(const std::string& out) {
  PplOutput p;
  size_t at = 0;
  while ((at = out.find('[', at)) != std::string::npos) {
    const size_t close = out.find(']', at);
    if (close == std::string::npos) break;
    p.running.push_back(std::strtod(out.c_str() + close + 1, nullptr));
    at = close;
  }
  const std::string key = "Final estimate: PPL = ";
  const size_t f = out.find(key);
  if (f != std::string::npos) {
    char* end = nullptr;
    p.ppl = std::strtod(out.c_str() + f + key.size(), &end);
    const char* pm = std::strstr(end, "+/- ");
    if (pm != nullptr) p.error = std::strtod(pm + 4, nullptr);
  }
  return p;
}

// The number after `label` in the output (e.g. "Mean    KLD:").
double value_after(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  if (at == std::string::npos) return NAN;
  return std::strtod(out.c_str() + at + label.size(), nullptr);
}

std::vector<int32_t> ids_of(const std::string& text) {
  std::vector<int32_t> ids;
  std::string item;
  std::istringstream is(text);
  while (std::getline(is, item, ',')) ids.push_back(std::atoi(item.c_str()));
  return ids;
}

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

void check_error(const Result& r, int code, const std::string& mention) {
  CHECK_EQ(r.code, code);
  CHECK_EQ(r.out, std::string());
  CHECK(r.err.rfind("loam: error: ", 0) == 0);
  CHECK(r.err.find('\n') == r.err.size() - 1);  // one line
  CHECK(r.err.find(mention) != std::string::npos);
  if (r.err.find(mention) == std::string::npos) std::fprintf(stderr, "  got: %s", r.err.c_str());
}

}  // namespace

TEST_CASE("shared: perplexity equals the same computation from loam logits rows (1e-4)") {
  // The tokens: the story without its trailing newline, BOS first.
  std::string text = kStory;
  text.pop_back();
  const Result tok = run({"tokenize", "-m", model_path(), "-p", text, "--ids"});
  REQUIRE(tok.code == 0);
  const std::vector<int32_t> ids = ids_of(tok.out);
  REQUIRE(ids.size() == 739);
  REQUIRE(ids[0] == kBos);

  const int n_chunk = static_cast<int>(ids.size()) / kCtx;  // 5
  const int first = kCtx / 2;
  double sum = 0.0, sum2 = 0.0;
  long count = 0;
  std::vector<double> running;
  for (int c = 0; c < n_chunk; ++c) {
    std::vector<int32_t> window(ids.begin() + c * kCtx, ids.begin() + (c + 1) * kCtx);
    window[0] = kBos;
    const std::string out = loam_test::temp_dir() + "/w" + std::to_string(c) + ".f32";
    const Result r = run({"logits", "-m", model_path(), "--tokens", join(window), "-o", out,
                          "-c", std::to_string(kCtx)});
    REQUIRE(r.code == 0);
    const std::string bytes = slurp(out);
    const size_t n_vocab = bytes.size() / 4 / kCtx;
    REQUIRE(n_vocab == 512 && bytes.size() == n_vocab * 4 * kCtx);
    std::vector<float> rows(n_vocab * kCtx);  // [kCtx][n_vocab], little-endian host
    std::memcpy(rows.data(), bytes.data(), bytes.size());
    for (int pos = first; pos <= kCtx - 2; ++pos) {
      const float* row = rows.data() + static_cast<size_t>(pos) * n_vocab;
      double max = row[0];
      for (size_t i = 1; i < n_vocab; ++i) max = std::fmax(max, row[i]);
      double z = 0.0;
      for (size_t i = 0; i < n_vocab; ++i) z += std::exp(double{row[i]} - max);
      const double nll = -(double{row[window[pos + 1]]} - max - std::log(z));
      sum += nll;
      sum2 += nll * nll;
      ++count;
    }
    running.push_back(std::exp(sum / count));
  }
  CHECK_EQ(count, 5L * 63);
  const double mean = sum / count;
  const double ppl = std::exp(mean);
  const double error = ppl * std::sqrt((sum2 / count - mean * mean) / (count - 1));

  const Result r = run({"perplexity", "-m", model_path(), "-f", story_file(), "-c", "128"});
  REQUIRE(r.code == 0);
  const PplOutput got = parse_ppl(r.out);
  std::fprintf(stderr, "  loam perplexity: %.6f +/- %.6f; from loam logits: %.6f +/- %.6f\n",
               got.ppl, got.error, ppl, error);
  CHECK(std::fabs(got.ppl - ppl) <= 1e-4 * ppl);
  CHECK(std::fabs(got.error - error) <= 1e-4 * error);
  REQUIRE(got.running.size() == running.size());
  for (size_t i = 0; i < running.size(); ++i) {
    CHECK(std::fabs(got.running[i] - running[i]) <= 1e-4 * running[i]);
  }
  CHECK(r.err.find("5 windows of 128 tokens") != std::string::npos);
}

TEST_CASE("shared: perplexity is within 1% of llama.cpp's llama-perplexity") {
  const Result r = run({"perplexity", "-m", model_path(), "-f", story_file(), "-c", "128"});
  REQUIRE(r.code == 0);
  const PplOutput got = parse_ppl(r.out);
  std::fprintf(stderr, "  loam: %.4f +/- %.5f; llama-perplexity: %.4f +/- %.5f\n", got.ppl,
               got.error, kLlamaCppPpl, kLlamaCppPplError);
  CHECK(std::fabs(got.ppl - kLlamaCppPpl) <= 0.01 * kLlamaCppPpl);
  CHECK(std::fabs(got.error - kLlamaCppPplError) <= 0.01 * kLlamaCppPplError);
  REQUIRE(got.running.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(std::fabs(got.running[i] - kLlamaCppRunning[i]) <= 0.01 * kLlamaCppRunning[i]);
  }
}

TEST_CASE("shared: perplexity does not depend on -b or the thread count") {
  const std::string story = story_file();
  const Result a = run({"perplexity", "-m", model_path(), "-f", story, "-c", "128", "-t", "1"});
  const Result b = run({"perplexity", "-m", model_path(), "-f", story, "-c", "128", "-b", "7",
                        "-t", "2"});
  REQUIRE(a.code == 0);
  CHECK_EQ(a.out, b.out);
  // --chunks 2 prints the first two running values of the full run.
  const Result c = run({"perplexity", "-m", model_path(), "-f", story, "-c", "128", "--chunks",
                        "2"});
  REQUIRE(c.code == 0);
  const PplOutput full = parse_ppl(a.out), two = parse_ppl(c.out);
  REQUIRE(two.running.size() == 2);
  CHECK_EQ(two.running[1], full.running[1]);
  CHECK_EQ(two.ppl, full.running[1]);
}

TEST_CASE("shared: KL divergence of a model against its own base file is 0, top-1 100%") {
  const std::string base = loam_test::temp_dir() + "/self.kld";
  const Result w = run({"perplexity", "-m", model_path(), "-f", story_file(), "-c", "128",
                        "--kl-divergence-base", base});
  REQUIRE(w.code == 0);
  // 32 header bytes + 5 * 128 tokens * 4 + 5 * 63 rows * 512 floats * 4
  CHECK_EQ(slurp(base).size(), size_t{32 + 5 * 128 * 4 + 5 * 63 * 512 * 4});
  const Result k = run({"perplexity", "-m", model_path(), "--kl-divergence-base", base,
                        "--kl-divergence"});
  REQUIRE(k.code == 0);
  CHECK_EQ(value_after(k.out, "Mean    KLD:"), 0.0);
  CHECK_EQ(value_after(k.out, "Maximum KLD:"), 0.0);
  CHECK_EQ(value_after(k.out, "Same top p:"), 100.0);
  CHECK_EQ(value_after(k.out, "Mean    \xCE\x94p:"), 0.0);
  // PPL(Q) and PPL(base) are the perplexity printed when the file was written.
  const double ppl = parse_ppl(w.out).ppl;
  CHECK(std::fabs(value_after(k.out, "Mean PPL(Q)                   :") - ppl) <= 1e-4 * ppl);
  CHECK(std::fabs(value_after(k.out, "Mean PPL(base)                :") - ppl) <= 1e-4 * ppl);
  // The text may be given again; then it must give the file's tokens.
  const Result same = run({"perplexity", "-m", model_path(), "-f", story_file(),
                           "--kl-divergence-base", base, "--kl-divergence"});
  CHECK_EQ(same.code, 0);
}

TEST_CASE("shared: KL divergence of a Q4_0 copy against its F32 base: > 0, within 2% of llama.cpp") {
  const std::string f32 = loam_test::shared_file("models/synth/synth-tiny-f32.gguf");
  const std::string dir = loam_test::temp_dir();
  const std::string q4 = dir + "/synth-tiny-Q4_0.gguf";
  REQUIRE(run({"quantize", f32, q4, "Q4_0"}).code == 0);
  const std::string base = dir + "/synth-f32.kld";
  REQUIRE(run({"perplexity", "-m", f32, "-f", story_file(), "-c", "128",
               "--kl-divergence-base", base}).code == 0);
  const Result k = run({"perplexity", "-m", q4, "--kl-divergence-base", base,
                        "--kl-divergence"});
  REQUIRE(k.code == 0);
  const double kld = value_after(k.out, "Mean    KLD:");
  const double top = value_after(k.out, "Same top p:");
  std::fprintf(stderr, "  synth-tiny Q4_0 vs F32: mean KLD %.6f (llama-perplexity %.6f), same top "
               "p %.3f%%\n", kld, kLlamaCppSynthQ4Kld, top);
  CHECK(kld > 0.0);
  CHECK(std::fabs(kld - kLlamaCppSynthQ4Kld) <= 0.02 * kLlamaCppSynthQ4Kld);
  CHECK(top > 0.0 && top <= 100.0);
  CHECK(value_after(k.out, "Maximum KLD:") >= kld);
  CHECK(k.out.find("chunk             PPL") != std::string::npos);  // per-window table
}

TEST_CASE("shared: perplexity refuses bad inputs with one line") {
  const std::string story = story_file();
  // 739 tokens: -c 400 would need 800.
  check_error(run({"perplexity", "-m", model_path(), "-f", story, "-c", "400"}), 1,
              "needs at least 800");
  check_error(run({"perplexity", "-m", model_path(), "-f", loam_test::temp_dir() + "/none.txt"}),
              1, "none.txt");
  check_error(run({"perplexity", "-m", model_path(), "--kl-divergence-base",
                   loam_test::temp_dir() + "/none.kld", "--kl-divergence"}),
              1, "none.kld");
  check_error(run({"perplexity", "-m", model_path(), "--kl-divergence"}), 2,
              "--kl-divergence-base");
  check_error(run({"perplexity", "-m", model_path()}), 2, "missing -f");

  // A base file that does not match: other vocabulary, other -c, other text, damaged.
  const std::string base = loam_test::temp_dir() + "/match.kld";
  REQUIRE(run({"perplexity", "-m", model_path(), "-f", story, "-c", "64", "--chunks", "2",
               "--kl-divergence-base", base}).code == 0);
  check_error(run({"perplexity", "-m", loam_test::shared_file("models/llama-2-tiny-random.gguf"),
                   "--kl-divergence-base", base, "--kl-divergence"}),
              1, "vocabulary of 512 tokens");
  check_error(run({"perplexity", "-m", model_path(), "-c", "128", "--kl-divergence-base", base,
                   "--kl-divergence"}),
              1, "windows of 64 tokens");
  const std::string other = loam_test::temp_dir() + "/other.txt";
  write_file(other, std::string("Tom had a dog. ") + kStory);
  check_error(run({"perplexity", "-m", model_path(), "-f", other, "--kl-divergence-base", base,
                   "--kl-divergence"}),
              1, "does not give the tokens");
  const std::string cut = loam_test::temp_dir() + "/cut.kld";
  const std::string bytes = slurp(base);
  write_file(cut, bytes.substr(0, bytes.size() - 4));
  check_error(run({"perplexity", "-m", model_path(), "--kl-divergence-base", cut,
                   "--kl-divergence"}),
              1, "truncated");
  check_error(run({"perplexity", "-m", model_path(), "--kl-divergence-base", story,
                   "--kl-divergence"}),
              1, "not a KL-divergence base file");
}
