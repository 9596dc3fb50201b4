// Runs the built `loam` binary (LOAM_BINARY) as a user would, with stdout and stderr captured
// separately: the acceptance runs against the golden texts, exit codes and one-line
// errors, --help everywhere, the logits file, seeds and thread counts, and the README's commands.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"

using namespace loam_cli_test;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream is(s);
  for (std::string line; std::getline(is, line);) lines.push_back(line);
  return lines;
}

// A failed run: the expected code, nothing on stdout, exactly one "loam: error: " line on stderr
// that contains `mention`.
void check_one_line_error(const Result& r, int code, const std::string& mention) {
  CHECK_EQ(r.code, code);
  CHECK_EQ(r.out, std::string());
  const auto lines = lines_of(r.err);
  CHECK_EQ(lines.size(), size_t(1));
  CHECK(r.err.rfind("loam: error: ", 0) == 0);
  CHECK(r.err.find(mention) != std::string::npos);
  if (r.err.find(mention) == std::string::npos) std::fprintf(stderr, "  stderr: %s", r.err.c_str());
}

// The string value of "key" in a golden JSON file (the escapes those files use).
std::string json_string(const std::string& json, const std::string& key) {
  const std::string open = "\"" + key + "\": \"";
  size_t i = json.find(open);
  if (i == std::string::npos) return "<missing " + key + ">";
  std::string out;
  for (i += open.size(); i < json.size() && json[i] != '"'; ++i) {
    if (json[i] != '\\') {
      out += json[i];
      continue;
    }
    const char c = json[++i];
    if (c == 'n') out += '\n';
    else if (c == 't') out += '\t';
    else if (c == 'u') {
      const unsigned cp = static_cast<unsigned>(std::stoul(json.substr(i + 1, 4), nullptr, 16));
      i += 4;
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else out += c;  // \" \\ \/
  }
  return out;
}

std::vector<int> ints_of(const std::string& line) {
  std::vector<int> v;
  std::istringstream is(line);
  for (int x; is >> x;) v.push_back(x);
  return v;
}

struct Golden {
  std::string prompt;
  std::string text;  // exact bytes of the continuation
  std::vector<int> prompt_tokens;
  std::vector<int> generated_tokens;
};

Golden golden(int k) {
  const std::string stem = "golden/aidreams260K.p" + std::to_string(k);
  Golden g;
  g.prompt = json_string(slurp(loam_test::shared_file(stem + ".json")), "prompt");
  g.text = slurp(loam_test::shared_file(stem + ".text"));
  const auto lines = lines_of(slurp(loam_test::shared_file(stem + ".tokens.txt")));
  if (lines.size() >= 2) {
    g.prompt_tokens = ints_of(lines[0]);
    g.generated_tokens = ints_of(lines[1]);
  }
  return g;
}

std::string gguf_model() { return loam_test::shared_file("models/aidreams260K.gguf"); }
std::string bin_model() { return loam_test::shared_file("models/aidreams260K.bin"); }
std::string tok512() { return loam_test::shared_file("models/tok512.bin"); }

std::string join_ids(const std::vector<int>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}

}  // namespace

// --- acceptance: greedy text equals the golden continuation ------------------------------------

TEST_CASE("shared: run --temp 0 prints the golden text of aidreams260K.gguf p1..p4") {
  for (int k = 1; k <= 4; ++k) {
    const Golden g = golden(k);
    const Result r = run({"run", "-m", gguf_model(), "-p", g.prompt, "-n", "100", "--temp", "0"});
    CHECK_EQ(r.code, 0);
    // p4's prompt is empty: the issue allows dropping the leading space after BOS there.
    const bool ok = r.out == g.text + "\n" || (k == 4 && r.out == g.text.substr(1) + "\n");
    CHECK(ok);
    if (!ok) std::fprintf(stderr, "  p%d got: %s\n  stderr: %s", k, r.out.c_str(), r.err.c_str());
    CHECK(r.err.find("tokens/s") != std::string::npos);  // timings go to stderr
  }
}

TEST_CASE("shared: run --temp 0 prints the golden text of aidreams260K.bin with tok512.bin") {
  for (int k = 1; k <= 4; ++k) {
    const Golden g = golden(k);
    const Result r = run({"run", "-m", bin_model(), "--tokenizer", tok512(), "-p", g.prompt, "-n",
                          "100", "--temp", "0"});
    CHECK_EQ(r.code, 0);
    const bool ok = r.out == g.text + "\n" || (k == 4 && r.out == g.text.substr(1) + "\n");
    CHECK(ok);
    if (!ok) std::fprintf(stderr, "  p%d got: %s\n  stderr: %s", k, r.out.c_str(), r.err.c_str());
  }
}

TEST_CASE("shared: run streams multi-byte UTF-8 exactly (llama-2-tiny-random.gguf, 32000 vocab)") {
  const std::string json = slurp(loam_test::shared_file("golden/llama-2-tiny-random.p1.json"));
  const std::string text = slurp(loam_test::shared_file("golden/llama-2-tiny-random.p1.text"));
  const Result r = run({"run", "-m", loam_test::shared_file("models/llama-2-tiny-random.gguf"),
                        "-p", json_string(json, "prompt"), "-n", "24", "--temp", "0"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, text + "\n");  // includes "é" and Thai "โ" (3 bytes)
}

TEST_CASE("shared: -f reads the prompt from a file or stdin, dropping one trailing newline") {
  const Golden g = golden(1);
  RunSpec spec;
  spec.args = {"run", "-m", gguf_model(), "-f", "-", "-n", "100", "--temp", "0"};
  spec.stdin_text = g.prompt + "\n";
  const Result from_stdin = run(spec);
  CHECK_EQ(from_stdin.code, 0);
  CHECK_EQ(from_stdin.out, g.text + "\n");

  const std::string file = loam_test::temp_dir() + "/prompt.txt";
  write_file(file, g.prompt + "\n");
  const Result from_file = run({"run", "-m", gguf_model(), "-f", file, "-n", "100", "--temp", "0"});
  CHECK_EQ(from_file.code, 0);
  CHECK_EQ(from_file.out, g.text + "\n");
}

TEST_CASE("shared: --echo prints the prompt before the continuation") {
  const Golden g = golden(2);
  const Result r =
      run({"run", "-m", gguf_model(), "-p", g.prompt, "-n", "100", "--temp", "0", "--echo"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, g.prompt + g.text + "\n");
}

TEST_CASE("shared: generation stops at the context end, -n 0 generates nothing") {
  const Golden g = golden(1);  // 13 prompt tokens; -c 20 leaves room for 7
  const Result r = run({"run", "-m", gguf_model(), "-p", g.prompt, "-c", "20", "--temp", "0"});
  CHECK_EQ(r.code, 0);
  REQUIRE(r.out.size() > 1);
  const std::string text = r.out.substr(0, r.out.size() - 1);
  CHECK(g.text.compare(0, text.size(), text) == 0);  // a prefix of the golden continuation
  CHECK(text.size() < g.text.size());
  CHECK(r.err.find("context full") != std::string::npos);

  const Result none = run({"run", "-m", gguf_model(), "-p", g.prompt, "-n", "0"});
  CHECK_EQ(none.code, 0);
  CHECK_EQ(none.out, std::string("\n"));
}

TEST_CASE("shared: greedy text is the same with 1 and 2 threads") {
  const Golden g = golden(3);
  const Result one =
      run({"run", "-m", gguf_model(), "-p", g.prompt, "-n", "100", "--temp", "0", "-t", "1"});
  const Result two =
      run({"run", "-m", gguf_model(), "-p", g.prompt, "-n", "100", "--temp", "0", "-t", "2"});
  CHECK_EQ(one.code, 0);
  CHECK_EQ(two.code, 0);
  CHECK_EQ(one.out, two.out);
  CHECK_EQ(one.out, g.text + "\n");
}

TEST_CASE("shared: a seed reproduces the sampled text; no seed prints one that does") {
  const std::string m = gguf_model();
  auto sampled = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", "-m", m, "-p", "The city", "-n", "60", "--temp", "1.0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  const Result a = sampled({"-s", "42"}), b = sampled({"-s", "42"}), c = sampled({"-s", "43"});
  CHECK_EQ(a.code, 0);
  CHECK_EQ(a.out, b.out);
  CHECK(a.out != c.out);
  CHECK(a.err.find("seed:") == std::string::npos);  // only printed when loam picked it

  const Result picked = sampled({});
  CHECK_EQ(picked.code, 0);
  const size_t at = picked.err.find("seed: ");
  REQUIRE(at != std::string::npos);
  const std::string seed = picked.err.substr(at + 6, picked.err.find('\n', at) - at - 6);
  const Result again = sampled({"-s", seed});
  CHECK_EQ(again.out, picked.out);
}

// --- errors: one line, the right exit code -----------------------------------------------------

TEST_CASE("bad model files: exit 1 with one line naming the problem") {
  const std::string dir = loam_test::temp_dir();
  check_one_line_error(run({"run", "-m", dir + "/missing.gguf", "-p", "x"}), 1, "missing.gguf");
  check_one_line_error(run({"run", "-m", dir, "-p", "x"}), 1, dir);
  write_file(dir + "/empty.gguf", "");
  check_one_line_error(run({"run", "-m", dir + "/empty.gguf", "-p", "x"}), 1, "empty.gguf");
  write_file(dir + "/magic.gguf", std::string("NOPE") + std::string(60, '\x01'));
  check_one_line_error(run({"run", "-m", dir + "/magic.gguf", "-p", "x"}), 1, "magic.gguf");
  check_one_line_error(run({"info", dir + "/magic.gguf"}), 1, "magic.gguf");
  check_one_line_error(run({"run", "-m", dir + "/magic.gguf", "-f", dir + "/no-prompt.txt"}), 1,
                       "no-prompt.txt");  // the prompt file is read before the model
  check_one_line_error(run({"logits", "-m", dir + "/empty.gguf", "--tokens", "1", "-o",
                            dir + "/x.f32"}), 1, "empty.gguf");
}

TEST_CASE("shared: a prompt longer than the context: exit 1, one line") {
  const std::string long_prompt =
      "Once upon a time there was a little girl who liked to play in the park with her friends "
      "every single day of the week";
  check_one_line_error(run({"run", "-m", gguf_model(), "-c", "16", "-p", long_prompt}), 1,
                       "context");
}

TEST_CASE("shared: LOAM_ISA picks the kernels; an unknown one is a one-line error") {
  const Golden g = golden(1);
  RunSpec spec;
  spec.args = {"run", "-m", gguf_model(), "-p", g.prompt, "-n", "100", "--temp", "0"};
  spec.extra_env = {"LOAM_ISA=scalar"};
  const Result scalar = run(spec);
  CHECK_EQ(scalar.out, g.text + "\n");
  CHECK(scalar.err.find("kernels: scalar") != std::string::npos);
  spec.extra_env = {"LOAM_ISA=bogus"};
  check_one_line_error(run(spec), 1, "LOAM_ISA");
}

TEST_CASE("shared: a llama2.c checkpoint without --tokenizer cannot run text") {
  check_one_line_error(run({"run", "-m", bin_model(), "-p", "x"}), 1, "--tokenizer");
  check_one_line_error(run({"tokenize", "-m", bin_model(), "x"}), 1, "--tokenizer");
}

TEST_CASE("usage errors: exit 2, one line pointing at --help") {
  const std::string m = "model.gguf";  // never opened: parsing fails first
  const std::vector<std::vector<std::string>> cases = {
      {"run", "-m", m, "--bogus"},
      {"run", "-m", m, "-n", "abc"},
      {"run", "-m", m, "-n", "-2"},
      {"run", "-m", m, "--temp", "x"},
      {"run", "-m", m, "--top-p", "1.5"},
      {"run", "-m", m, "--min-p", "-0.1"},
      {"run", "-m", m, "--repeat-penalty", "0"},
      {"run", "-m", m, "-c", "-5"},
      {"run", "-m", m, "-t", "0"},
      {"run", "-m", m, "-s", "12x"},
      {"run", "-m", m, "-p", "a", "-f", "b"},
      {"run", "-m"},
      {"run", "-m", m, "stray"},
      {"info", "a.gguf", "b.gguf"},
      {"tokenize", "-m", m},
      {"logits", "-m", m, "-o", "x.f32"},
      {"logits", "-m", m, "--tokens", "1,x", "-o", "x.f32"},
      {"logits", "-m", m, "--tokens", "1,2"},
      {"frobnicate"},
      {"--frobnicate"},
  };
  for (const auto& args : cases) {
    const Result r = run(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    if (r.code != 2) std::fprintf(stderr, "  case: %s-> %d %s", cmd.c_str(), r.code, r.err.c_str());
    check_one_line_error(r, 2, "--help");
  }
  const Result bare = run(std::vector<std::string>{});
  CHECK_EQ(bare.code, 2);
  CHECK(bare.err.find("usage: loam") != std::string::npos);
}

TEST_CASE("--help on every subcommand, --version: exit 0 on stdout") {
  for (const char* cmd : {"run", "info", "tokenize", "logits"}) {
    for (const char* flag : {"--help", "-h"}) {
      const Result r = run({cmd, flag});
      CHECK_EQ(r.code, 0);
      CHECK(r.out.rfind(std::string("usage: loam ") + cmd, 0) == 0);
      CHECK_EQ(r.err, std::string());
    }
  }
  const Result help = run({"run", "--help"});
  for (const char* flag : {"--model", "--prompt", "--file", "--n-predict", "--ctx-size",
                           "--threads", "--seed", "--temp", "--top-k", "--top-p", "--min-p",
                           "--repeat-penalty", "--repeat-last-n", "--tokenizer", "--echo",
                           "--no-repack"}) {
    CHECK(help.out.find(flag) != std::string::npos);
  }
  const Result top = run({"--help"});
  CHECK_EQ(top.code, 0);
  CHECK(top.out.find("tokenize") != std::string::npos);
  const Result version = run({"--version"});
  CHECK_EQ(version.code, 0);
  CHECK(version.out.rfind("loam ", 0) == 0);
}

TEST_CASE("shared: run --no-repack prints the same text; the repacked size is logged on stderr") {
  const std::string model = loam_test::shared_file("models/synth/synth-tiny-Q4_K_M.gguf");
  const Result packed = run({"run", "-m", model, "-p", "Once upon a time", "-n", "24", "--temp", "0"});
  const Result plain =
      run({"run", "-m", model, "-p", "Once upon a time", "-n", "24", "--temp", "0", "--no-repack"});
  CHECK_EQ(packed.code, 0);
  CHECK_EQ(plain.code, 0);
  CHECK(!packed.out.empty());
  CHECK_EQ(packed.out, plain.out);
  CHECK(plain.err.find("repacked") == std::string::npos);
  // Repacking happens where the kernel set has a faster interleaved kernel (AVX2 for Q4_K).
  if (packed.err.find("kernels: avx2") != std::string::npos)
    CHECK(packed.err.find("repacked") != std::string::npos);
}

// --- the other subcommands ---------------------------------------------------------------------

TEST_CASE("shared: logits writes one golden-matching row per input token") {
  const Golden g = golden(1);
  // Teacher forcing: the prompt, then every generated token. The golden rows are the logits
  // after the whole prompt and after each generated token: ours from the last prompt position on.
  std::vector<int> ids = g.prompt_tokens;
  ids.insert(ids.end(), g.generated_tokens.begin(), g.generated_tokens.end());
  const std::string ref = slurp(loam_test::shared_file("golden/aidreams260K.p1.logits.f32"));
  const size_t n_vocab = 512, n_rows = g.generated_tokens.size() + 1;
  REQUIRE(ref.size() == n_rows * n_vocab * 4);

  for (const std::string& model : {gguf_model(), bin_model()}) {  // the .bin needs no tokenizer
    const std::string out = loam_test::temp_dir() + "/logits.f32";
    // The golden was made with an f32 KV cache.
    const Result r = run({"logits", "-m", model, "--tokens", join_ids(ids, ","), "-o", out,
                          "-ctk", "f32", "-ctv", "f32"});
    CHECK_EQ(r.code, 0);
    CHECK_EQ(r.out, std::string());
    const std::string got = slurp(out);
    REQUIRE(got.size() == ids.size() * n_vocab * 4);
    const size_t first = (g.prompt_tokens.size() - 1) * n_vocab;
    double max_diff = 0.0;
    for (size_t i = 0; i < n_rows * n_vocab; ++i) {
      float a, b;
      std::memcpy(&a, got.data() + 4 * (first + i), 4);  // little-endian host (x86, arm64)
      std::memcpy(&b, ref.data() + 4 * i, 4);
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(a - b)));
    }
    CHECK(max_diff <= 1e-3);
    if (max_diff > 1e-3) std::fprintf(stderr, "  %s: max |diff| %g\n", model.c_str(), max_diff);
  }
  check_one_line_error(run({"logits", "-m", gguf_model(), "--tokens", "1,512", "-o",
                            loam_test::temp_dir() + "/y.f32"}), 1, "512");
}

TEST_CASE("shared: tokenize gives the golden prompt tokens") {
  for (int k = 1; k <= 3; ++k) {
    const Golden g = golden(k);
    const Result ids = run({"tokenize", "-m", gguf_model(), g.prompt, "--ids"});
    CHECK_EQ(ids.code, 0);
    CHECK_EQ(ids.out, join_ids(g.prompt_tokens, ",") + "\n");
    const Result bin =
        run({"tokenize", "-m", bin_model(), "--tokenizer", tok512(), g.prompt, "--ids"});
    CHECK_EQ(bin.out, join_ids(g.prompt_tokens, ",") + "\n");
  }
  const Result pieces = run({"tokenize", "-m", gguf_model(), "Once upon a time"});
  CHECK_EQ(pieces.code, 0);
  const auto lines = lines_of(pieces.out);
  REQUIRE(lines.size() == 13);
  CHECK_EQ(lines[0], std::string("     1 -> '<s>'"));
}

TEST_CASE("shared: info shows architecture, hyperparameters, tensors and totals") {
  const Result r = run({"info", gguf_model()});
  CHECK_EQ(r.code, 0);
  for (const char* s : {"architecture:   llama", "embedding length         64",
                        "block count              4", "feed-forward length      172",
                        "head count kv            4", "vocab size               512",
                        "tokens                   512", "blk.3.ffn_down.weight", "[172, 64]"}) {
    CHECK(r.out.find(s) != std::string::npos);
  }
  // By hand: token_embd + output 2 x 512 x 64, output_norm 64, and per layer 4 x 64 x 64
  // attention + 3 x 64 x 172 FFN + 2 x 64 norms = 49536, times 4 layers: 263744 params, x4 bytes.
  CHECK(r.out.find("total: 263744 parameters") != std::string::npos);
  CHECK(r.out.find("1054976 bytes") != std::string::npos);
  const Result same = run({"info", "-m", gguf_model()});
  CHECK_EQ(same.out, r.out);
}

TEST_CASE("shared: run finds its model in $LOAM_MODEL, then ./models/, else explains") {
  const Golden g = golden(1);
  RunSpec spec;
  spec.args = {"run", "-p", g.prompt, "-n", "100", "--temp", "0"};
  spec.extra_env = {"LOAM_MODEL=" + gguf_model()};
  CHECK_EQ(run(spec).out, g.text + "\n");

  const std::string dir = loam_test::temp_dir() + "/cwd";
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/models").c_str(), 0755);
  spec.extra_env.clear();
  spec.cwd = dir;
  check_one_line_error(run(spec), 2, "models/README.md");  // no model anywhere

  CHECK_EQ(symlink(gguf_model().c_str(), (dir + "/models/only.gguf").c_str()), 0);
  CHECK_EQ(run(spec).out, g.text + "\n");

  CHECK_EQ(symlink(gguf_model().c_str(), (dir + "/models/second.gguf").c_str()), 0);
  check_one_line_error(run(spec), 2, "-m");  // two candidates: the user must choose
}

// --- README and CI agree -----------------------------------------------------------------------

TEST_CASE("README's test command is the one .ci/run runs") {
  const std::string readme = slurp(std::string(LOAM_SOURCE_DIR) + "/README.md");
  const std::string ci = slurp(std::string(LOAM_SOURCE_DIR) + "/.ci/run");
  const std::string marker = "<!-- test-command -->";
  const size_t a = readme.find(marker);
  REQUIRE(a != std::string::npos);
  const size_t b = readme.find(marker, a + marker.size());
  REQUIRE(b != std::string::npos);
  CHECK(readme.find(marker, b + marker.size()) == std::string::npos);  // exactly one block
  const std::string block = readme.substr(a, b - a);
  CHECK(block.find("ctest --preset release") != std::string::npos);
  CHECK(ci.find(marker) != std::string::npos);  // .ci/run extracts the command from that block
}

TEST_CASE("--version and info --cpu report the CPU features and the kernel set in use") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, std::vector<std::string>{"info", "--cpu"}}) {
    RunSpec spec;
    spec.args = args;
    spec.extra_env = {"LOAM_ISA=scalar"};
    const Result r = run(spec);
    CHECK_EQ(r.code, 0);
    CHECK(r.out.find("cpu features: ") != std::string::npos);
    CHECK(r.out.find("kernels: scalar (forced by LOAM_ISA)") != std::string::npos);
    spec.extra_env = {"LOAM_ISA=bogus"};
    check_one_line_error(run(spec), 1, "LOAM_ISA");
  }
}
