// `loam quantize` run as a user would (the binary at LOAM_BINARY): exit codes, one-line errors,
// progress on stderr without escape codes when stderr is a file, nothing on stdout, and an output
// that the other commands read.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"
#include "loam/gguf.h"

using namespace loam_cli_test;

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A failed run: the code, nothing on stdout, one "loam: error: " line mentioning `what`.
void check_error(const Result& r, int code, const std::string& what) {
  CHECK_EQ(r.code, code);
  CHECK_EQ(r.out, std::string());
  CHECK_EQ(count_lines(r.err), size_t(1));
  CHECK(r.err.rfind("loam: error: ", 0) == 0);
  if (r.err.find(what) == std::string::npos) {
    loam_test::record_failure(__FILE__, __LINE__, "stderr lacks '" + what + "': " + r.err);
  }
}

TEST_CASE("shared: cli: loam quantize writes a file the other commands read; progress on stderr") {
  const std::string in = loam_test::shared_file("models/synth/synth-tiny-f32.gguf");
  const std::string out = loam_test::temp_dir() + "/cli-q4km.gguf";
  const Result r = run({"quantize", in, out, "q4_k_m", "-t", "2"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string());
  // One line per tensor (39) and a summary; no escape codes or carriage returns in a file.
  CHECK_EQ(count_lines(r.err), size_t(40));
  CHECK(r.err.find('\x1b') == std::string::npos);
  CHECK(r.err.find('\r') == std::string::npos);
  CHECK(r.err.find("[ 1/39] output.weight") != std::string::npos);
  CHECK(r.err.find("F32 -> Q6_K") != std::string::npos);
  CHECK(r.err.find("Q4_K_M") != std::string::npos);
  CHECK(!exists(out + ".tmp"));
  // Same bytes as llama-quantize's file (see test_quantize_model), so same tensors and types.
  loam::GgufFile ours, ref;
  REQUIRE(loam::GgufFile::open(out, ours));
  REQUIRE(loam::GgufFile::open(loam_test::shared_file("models/synth/synth-tiny-Q4_K_M.gguf"), ref));
  for (const loam::GgufTensorInfo& t : ref.tensors()) {
    const loam::GgufTensorInfo* o = ours.find_tensor(t.name);
    REQUIRE(o != nullptr);
    CHECK(o->type == t.type && o->nbytes == t.nbytes && std::memcmp(o->data, t.data, t.nbytes) == 0);
  }
  const Result info = run({"info", out});
  CHECK_EQ(info.code, 0);
  CHECK(info.out.find("general.file_type = 15") != std::string::npos);
  const Result logits = run({"logits", "-m", out, "--tokens", "1,2,3", "-o", out + ".f32"});
  CHECK_EQ(logits.code, 0);
  CHECK_EQ(slurp(out + ".f32").size(), size_t(3 * 512 * 4));
}

TEST_CASE("shared: cli: llama2.c checkpoint with --tokenizer, and without") {
  const std::string bin = loam_test::shared_file("models/aidreams260K.bin");
  const std::string tok = loam_test::shared_file("models/tok512.bin");
  const std::string out = loam_test::temp_dir() + "/cli-aidreams.gguf";
  const Result r = run({"quantize", bin, out, "Q4_K_M", "--tokenizer", tok});
  CHECK_EQ(r.code, 0);
  CHECK(r.err.find("(fallback)") != std::string::npos);
  const Result t = run({"tokenize", "-m", out, "Once upon a time", "--ids"});
  CHECK_EQ(t.code, 0);
  CHECK(!t.out.empty());
  check_error(run({"quantize", bin, out + "2", "Q4_K_M"}), 1, "--tokenizer");
  CHECK(!exists(out + "2"));
}

TEST_CASE("shared: cli: bad TYPE, arguments, same file, quantized input") {
  const std::string in = loam_test::shared_file("models/synth/synth-tiny-f32.gguf");
  const std::string out = loam_test::temp_dir() + "/cli-bad.gguf";
  check_error(run({"quantize", in, out, "Q3_K_M"}), 2, "unknown TYPE 'Q3_K_M'");
  check_error(run({"quantize", in, out}), 2, "expected IN OUT TYPE");
  check_error(run({"quantize", in, out, "Q8_0", "extra"}), 2, "");
  check_error(run({"quantize", in, out, "Q8_0", "-t", "0"}), 2, "-t");
  check_error(run({"quantize", in, in, "Q8_0"}), 1, "overwrite the input");
  check_error(run({"quantize", loam_test::shared_file("models/synth/synth-tiny-Q8_0.gguf"), out,
                   "Q4_K_M"}),
              1, "already quantized");
  check_error(run({"quantize", out + ".missing", out, "Q8_0"}), 1, out + ".missing");
  CHECK(!exists(out));
  const Result help = run({"quantize", "--help"});
  CHECK_EQ(help.code, 0);
  CHECK(help.out.find("Q4_K_M") != std::string::npos);
  CHECK(help.out.find("--tokenizer") != std::string::npos);
  const Result top = run({"--help"});
  CHECK(top.out.find("quantize") != std::string::npos);
}

}  // namespace

namespace {

// synth-tiny's F32 file with one weight of blk.0.ffn_up.weight (row 3, column 5) replaced by
// `value`, written to `path`.
void write_with_bad_weight(const std::string& path, float value) {
  const std::string in = loam_test::shared_file("models/synth/synth-tiny-f32.gguf");
  std::string bytes = slurp(in);
  loam::GgufFile f;
  REQUIRE(loam::GgufFile::open(in, f));
  const loam::GgufTensorInfo* t = f.find_tensor("blk.0.ffn_up.weight");
  REQUIRE(t != nullptr && t->type == loam::DType::F32 && t->ne[1] > 3);
  const size_t at = f.data_offset() + t->offset + (3 * static_cast<size_t>(t->ne[0]) + 5) * 4;
  REQUIRE(at + 4 <= bytes.size());
  std::memcpy(&bytes[at], &value, 4);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("shared: cli: a NaN or an infinity in a weight is refused for block types, kept for F16") {
  const std::string dir = loam_test::temp_dir();
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()};
  for (float value : bad) {
    const std::string in = dir + "/bad-weight.gguf", out = dir + "/bad-weight-out.gguf";
    write_with_bad_weight(in, value);
    for (const char* type : {"q4_0", "q8_0", "q4_k_m", "q6_k"}) {
      // The tensors before it were reported as done; the error is the last line.
      const Result r = run({"quantize", in, out, type, "-t", "2"});
      CHECK_EQ(r.code, 1);
      CHECK_EQ(r.out, std::string());
      const size_t last = r.err.rfind('\n', r.err.size() - 2);
      const std::string last_line = r.err.substr(last == std::string::npos ? 0 : last + 1);
      CHECK(last_line.rfind("loam: error: ", 0) == 0);
      CHECK(last_line.find("tensor 'blk.0.ffn_up.weight' row 3 holds a NaN or infinity") !=
            std::string::npos);
      CHECK(!exists(out));
      CHECK(!exists(out + ".tmp"));
    }
    // Float targets keep the value as it is.
    CHECK_EQ(run({"quantize", in, out, "f16", "-t", "2"}).code, 0);
    CHECK(exists(out));
    std::remove(out.c_str());
  }
}
