// `loam quantize` streams its output: the header and tensor table are written first, then each
// tensor as it is converted, so the memory it holds is about one tensor, not the output file;
// and OUT.tmp never survives a failed write (a full disk, a missing directory).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "format_fixtures.h"
#include "formats/gguf_writer.h"
#include "harness/test.h"
#include "loam/gguf.h"

using loam::DType;
using loam::GgufStreamWriter;
using loam::GgufValue;
using loam::GgufWriter;
using loam_test::tmp;

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

long long file_size(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
}

// A writer with two small tensors of known bytes.
GgufWriter two_tensors(const std::vector<float>& a, const std::vector<uint16_t>& b) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::make_string("test"));
  (void)w.add_tensor("a", DType::F32, {static_cast<int64_t>(a.size())}, a.data(), a.size() * 4);
  (void)w.add_tensor("b", DType::F16, {8, 2}, b.data(), b.size() * 2);
  return w;
}

}  // namespace

TEST_CASE("a streamed file equals the one written whole, byte for byte") {
  const std::vector<float> a = {1, 2, 3};  // 12 bytes: the next tensor needs padding
  const std::vector<uint16_t> b(16, 0x3c00);
  const std::string whole = tmp("whole.gguf"), streamed = tmp("streamed.gguf");
  REQUIRE(two_tensors(a, b).write(whole));

  GgufWriter layout;
  layout.set("general.architecture", GgufValue::make_string("test"));
  REQUIRE(layout.add_tensor_info("a", DType::F32, {3}));
  REQUIRE(layout.add_tensor_info("b", DType::F16, {8, 2}));
  GgufStreamWriter s;
  REQUIRE(s.open(layout, streamed));
  CHECK(exists(streamed + ".tmp"));
  CHECK(!exists(streamed));
  REQUIRE(s.write_tensor(a.data(), 12));
  REQUIRE(s.write_tensor(b.data(), 32));
  REQUIRE(s.finish());
  CHECK(!exists(streamed + ".tmp"));
  CHECK(loam_test::read_all(streamed) == loam_test::read_all(whole));
  // A declared tensor without data cannot go through write().
  CHECK_ERROR(layout.write(tmp("nodata.gguf")), "tensor 'a'", "without its data");
  CHECK(!exists(tmp("nodata.gguf.tmp")));
}

TEST_CASE("a stream that is not completed leaves no file under either name") {
  GgufWriter layout;
  REQUIRE(layout.add_tensor_info("a", DType::F32, {4}));
  REQUIRE(layout.add_tensor_info("b", DType::F32, {4}));
  const float x[4] = {};
  const std::string path = tmp("partial.gguf");
  {
    GgufStreamWriter s;
    REQUIRE(s.open(layout, path));
    REQUIRE(s.write_tensor(x, 16));
  }  // destroyed before finish()
  CHECK(!exists(path + ".tmp"));
  CHECK(!exists(path));
  {
    GgufStreamWriter s;
    REQUIRE(s.open(layout, path));
    s.abandon();
    CHECK(!exists(path + ".tmp"));
    CHECK(!s.write_tensor(x, 16));
  }
  {
    GgufStreamWriter s;
    REQUIRE(s.open(layout, path));
    CHECK_ERROR(s.write_tensor(x, 12), "12 bytes, declared 16");
    CHECK(!exists(path + ".tmp"));
  }
  {
    GgufStreamWriter s;
    REQUIRE(s.open(layout, path));
    REQUIRE(s.write_tensor(x, 16));
    CHECK_ERROR(s.finish(), "1 of 2 tensors written");
    CHECK(!exists(path + ".tmp"));
  }
  CHECK(!exists(path));
  GgufStreamWriter s;
  CHECK_ERROR(s.open(layout, tmp("no-such-dir/x.gguf")), "cannot create", "no-such-dir/x.gguf.tmp",
              "No such file or directory");
}

TEST_CASE("a full disk: the write fails with ENOSPC's message and OUT.tmp is removed") {
  if (!exists("/dev/full")) SKIP("no /dev/full");
  // OUT.tmp as a link to /dev/full: every write to it fails as on a full disk.
  const std::string path = tmp("full.gguf");
  REQUIRE(symlink("/dev/full", (path + ".tmp").c_str()) == 0);
  const std::vector<float> a(4096, 1.0f);  // more than stdio's buffer
  const std::vector<uint16_t> b(16, 0);
  CHECK_ERROR(two_tensors(a, b).write(path), "cannot write", "full.gguf.tmp",
              "No space left on device");
  CHECK(!exists(path + ".tmp"));
  CHECK(!exists(path));
}

TEST_CASE("quantize on a full disk or into a missing directory: exit 1, one line, no OUT.tmp") {
  if (!exists("/dev/full")) SKIP("no /dev/full");
  loam_test::TinyLlamaSpec spec;
  spec.n_ff = 64;
  const std::string in = loam_test::write_tiny("qfull-in.gguf", spec);
  const std::string out = tmp("qfull-out.gguf");
  REQUIRE(symlink("/dev/full", (out + ".tmp").c_str()) == 0);
  const loam_cli_test::Result r = loam_cli_test::run({"quantize", in, out, "Q8_0"});
  CHECK_EQ(r.code, 1);
  CHECK(r.err.find("loam: error: cannot write " + out + ".tmp: No space left on device") !=
        std::string::npos);
  CHECK(!exists(out + ".tmp"));
  CHECK(!exists(out));
  const std::string missing = tmp("no-such-dir/out.gguf");
  const loam_cli_test::Result m = loam_cli_test::run({"quantize", in, missing, "Q8_0"});
  CHECK_EQ(m.code, 1);
  CHECK(m.err.find("cannot create " + missing + ".tmp: No such file or directory") !=
        std::string::npos);
}

TEST_CASE("quantize holds about one tensor in memory, not the output file") {
  // 56M parameters in F32 (222 MB) to Q8_0 (59 MB). Holding every converted tensor until the end,
  // as quantize once did, put the child's peak resident set above the output's size (plus the
  // input pages it had read) on top of the program's own; streamed, the peak is the largest
  // tensor's input and output (~15 MB) on top of it. The program's own is measured here, as the
  // peak of `loam --version`: 36-38 MB under ASan, where it grows with the binary (the attention
  // kernels of 2026-12-07 added 0.8 MB to it, and the whole peak, 55.7-56.2 MB before, passed the
  // output's 56.4 MB when the bound was the output's size alone).
  loam_test::TinyLlamaSpec spec;
  spec.n_embd = 1024;
  spec.n_head = 8;
  spec.n_head_kv = 8;
  spec.n_layer = 4;
  spec.n_ff = 2816;  // a multiple of 256, as in real models
  spec.n_vocab = 2048;
  spec.with_vocab = false;
  // Written by a child process: the child that runs loam is forked from this one, and its peak
  // counts this process's resident pages until exec; under ASan the freed 222 MB would stay
  // resident here (its quarantine) and be counted as loam's.
  const std::string in = tmp("qmem-in.gguf");
  std::fflush(nullptr);
  const pid_t writer = fork();
  if (writer == 0) _exit(loam_test::write_tiny_llama(in, spec) ? 0 : 1);
  int status = 0;
  REQUIRE(writer > 0 && waitpid(writer, &status, 0) == writer && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
  const std::string out = tmp("qmem-out.gguf");
  const loam_cli_test::Result r = loam_cli_test::run({"quantize", in, out, "Q8_0", "-t", "2"});
  REQUIRE(r.code == 0);
  const long long out_bytes = file_size(out);
  REQUIRE(out_bytes > (50ll << 20));
  const long long peak = static_cast<long long>(r.max_rss_kib) * 1024;
  const loam_cli_test::Result idle = loam_cli_test::run({"--version"});
  REQUIRE(idle.code == 0);
  const long long program = static_cast<long long>(idle.max_rss_kib) * 1024;
  std::fprintf(stderr, "  peak resident %.1f MiB (the program alone %.1f) for %.1f MiB written\n",
               peak / 1048576.0, program / 1048576.0, out_bytes / 1048576.0);
  CHECK(program > 0);
  CHECK(peak > program);
  CHECK(peak - program < out_bytes / 2);
  unlink(in.c_str());
  unlink(out.c_str());
}
