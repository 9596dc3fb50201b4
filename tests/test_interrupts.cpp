// Ctrl-C (SIGINT) and SIGTERM: `loam run` stops between two steps, prints the statistics so far
// and exits 130; `loam quantize` stops within a chunk, removes OUT.tmp and exits 130. A reader
// that closes the pipe (`| head -c 10`) ends `run` at once through SIGPIPE. Each command is
// started, observed until it is working, then signalled.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "core/mmap_file.h"
#include "format_fixtures.h"
#include "harness/test.h"
#include "loam/gguf.h"

using loam::GgufValue;
using loam_cli_test::slurp;
using loam_test::tmp;

namespace {

using Clock = std::chrono::steady_clock;

// `loam ARGS` in the background, stdout and stderr into files.
struct Child {
  pid_t pid = -1;
  std::string out_path, err_path;
  std::string out() const { return slurp(out_path); }
  std::string err() const { return slurp(err_path); }
};

Child spawn(const std::vector<std::string>& args, const std::string& name) {
  Child c;
  c.out_path = tmp(name + ".out");
  c.err_path = tmp(name + ".err");
  std::vector<std::string> storage = {LOAM_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(&s[0]);
  argv.push_back(nullptr);
  std::fflush(nullptr);
  c.pid = fork();
  if (c.pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(c.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(c.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    unsetenv("LOAM_MODEL");
    execv(argv[0], argv.data());
    _exit(127);
  }
  return c;
}

// Polls `ready` every 10 ms for up to `seconds`.
bool wait_until(const std::function<bool()>& ready, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ready();
}

// The exit status (128 + signal when killed by one); -1 if the child did not end within
// `seconds`, in which case it is killed.
int wait_exit(pid_t pid, double seconds) {
  int status = 0;
  pid_t done = 0;
  wait_until([&] { return (done = waitpid(pid, &status, WNOHANG)) != 0; }, seconds);
  if (done != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A tiny model that never ends a text by itself: output_norm.weight is zeroed, so every logit is
// exactly 0 on every kernel set and greedy sampling always picks token 0, here the normal piece
// "x" (never end-of-sequence). Generation runs until the context is full.
std::string endless_model() {
  static std::string path;
  if (!path.empty()) return path;
  loam_test::TinyLlamaSpec spec;
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int i = 0; i < spec.n_vocab; ++i) {
    tokens.push_back(i == 0 ? "x" : i == 1 ? "<s>" : i == 2 ? "</s>" : "t" + std::to_string(i));
    types.push_back(i == 1 || i == 2 ? 3 : 1);
  }
  spec.extra_keys.push_back({"tokenizer.ggml.tokens", GgufValue::make_string_array(tokens)});
  spec.extra_keys.push_back({"tokenizer.ggml.token_type", GgufValue::make_i32_array(types)});
  spec.extra_keys.push_back({"tokenizer.ggml.unknown_token_id", GgufValue::make_u32(3)});
  path = loam_test::write_tiny("endless.gguf", spec);
  loam::GgufFile f;
  if (!loam::GgufFile::open(path, f)) return path;
  const loam::GgufTensorInfo* norm = f.find_tensor("output_norm.weight");
  if (norm == nullptr) return path;
  const size_t at = static_cast<size_t>(norm->data - f.mapping()->data());
  std::vector<uint8_t> bytes = loam_test::read_all(path);
  std::memset(bytes.data() + at, 0, norm->nbytes);
  loam_test::write_all(path, bytes);
  return path;
}

int count_of(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + label.size());
}

}  // namespace

TEST_CASE("SIGINT during generation: the text so far, the statistics, exit 130") {
  // 200000 positions: a few minutes of generation for this model, so only the signal ends it.
  const Child c = spawn({"run", "-m", endless_model(), "-p", "t3", "-c", "200000", "--temp", "0",
                         "-t", "1"}, "gen");
  REQUIRE(c.pid > 0);
  const bool started = wait_until([&] { return c.out().size() >= 100; }, 60);
  CHECK(started);
  const auto sent = Clock::now();
  kill(c.pid, SIGINT);
  const int code = wait_exit(c.pid, 30);
  const double took = std::chrono::duration<double>(Clock::now() - sent).count();
  CHECK_EQ(code, 130);
  CHECK(took < 5.0);
  const std::string err = c.err();
  CHECK(err.find("stop: interrupted by SIGINT") != std::string::npos);
  CHECK(err.find("prompt: ") != std::string::npos);
  const int generated = count_of(err, "generation: ");
  CHECK(generated >= 100);
  // Every token printed is counted, and the text ends with the usual newline.
  const std::string out = c.out();
  CHECK_EQ(out.size(), static_cast<size_t>(generated) + 1);
  CHECK(!out.empty() && out.back() == '\n');
  if (code != 130) std::fprintf(stderr, "  stderr: %s", err.c_str());
}

TEST_CASE("SIGTERM during a long prompt: how much of it was read, exit 130") {
  // 30000 tokens of prompt ("t3" is one token): about a minute of attention for this model,
  // far longer than the test waits.
  std::string prompt;
  for (int i = 0; i < 30000; ++i) prompt += "t3";
  const std::string prompt_file = tmp("long-prompt.txt");
  loam_cli_test::write_file(prompt_file, prompt);
  const Child c = spawn({"run", "-m", endless_model(), "-f", prompt_file, "-c", "65536", "-t", "1",
                         "--temp", "0"}, "prompt");
  REQUIRE(c.pid > 0);
  // "kernels: ..." is logged just before the prompt is evaluated.
  CHECK(wait_until([&] { return c.err().find("kernels: ") != std::string::npos; }, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(c.pid, SIGTERM);
  const int code = wait_exit(c.pid, 30);
  CHECK_EQ(code, 130);
  const std::string err = c.err();
  const int read = count_of(err, "prompt: ");
  CHECK(read > 0);
  CHECK(err.find(" of ") != std::string::npos);  // "prompt: K of N tokens"
  CHECK(err.find("generation: 0 tokens") != std::string::npos);
  CHECK(err.find("stop: interrupted by SIGTERM") != std::string::npos);
  CHECK_EQ(c.out(), std::string("\n"));
  if (code != 130) std::fprintf(stderr, "  stderr: %s", err.c_str());
}

TEST_CASE("SIGINT during quantize: exit 130, neither OUT nor OUT.tmp left") {
  // 15M parameters to Q4_K_M on one thread: a few seconds of work.
  loam_test::TinyLlamaSpec spec;
  spec.n_embd = 512;
  spec.n_head = 8;
  spec.n_head_kv = 8;
  spec.n_layer = 4;
  spec.n_ff = 1536;
  spec.n_vocab = 2048;
  spec.with_vocab = false;
  const std::string in = loam_test::write_tiny("qint-in.gguf", spec);
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string out = tmp("qint-out.gguf");
    const Child c = spawn({"quantize", in, out, "Q4_K_M", "-t", "1"}, "quantize");
    REQUIRE(c.pid > 0);
    // OUT.tmp exists from the moment the header is written, before the first tensor.
    CHECK(wait_until([&] { return exists(out + ".tmp"); }, 60));
    kill(c.pid, sig);
    const int code = wait_exit(c.pid, 30);
    CHECK_EQ(code, 130);
    CHECK(!exists(out + ".tmp"));
    CHECK(!exists(out));
    const std::string err = c.err();
    const std::string want = std::string("loam: interrupted by ") +
                             (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": " + out + " not written";
    CHECK(err.find(want) != std::string::npos);
    if (err.find(want) == std::string::npos) std::fprintf(stderr, "  stderr: %s", err.c_str());
  }
  unlink(in.c_str());
}

TEST_CASE("run | head -c 10: the closed pipe ends run at once, head gets its bytes") {
  if (!exists("/bin/bash")) SKIP("no /bin/bash");
  const std::string got = tmp("head.out");
  // pipefail: the pipeline's status is loam's: 141 = 128 + SIGPIPE; or 1 ("writing ... failed")
  // where the test runs with SIGPIPE ignored, which loam inherits.
  const std::string script = std::string("set -o pipefail; '") + LOAM_BINARY + "' run -m '" +
                             endless_model() + "' -p t3 -c 200000 --temp 0 -t 1 2>/dev/null" +
                             " | head -c 10 > '" + got + "'";
  const auto start = Clock::now();
  const int status = std::system(("/bin/bash -c \"" + script + "\"").c_str());
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  REQUIRE(status != -1 && WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 141 || WEXITSTATUS(status) == 1);
  CHECK_EQ(slurp(got), std::string("xxxxxxxxxx"));
  CHECK(took < 30.0);  // not the minutes a full context would take
}
