// Memory decided before it is used: the session's bytes are computed without overflow and checked
// against the memory available (or --max-memory) before `loam run` / `loam logits` allocate them,
// and the loaders never size an allocation from a count the file cannot back.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "format_fixtures.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "loam/gguf.h"
#include "loam/model.h"
#include "loam/session.h"
#include "loam/tokenizer.h"
#include "model/interleave_weights.h"
#include "quant/quantize_model.h"

using loam::ModelConfig;
using loam::Session;
using loam::SessionOptions;
using loam::Status;
using loam_test::Bytes;
using loam_test::tmp;

namespace {

// One "loam: error: " line on stderr containing every `parts`, nothing on stdout.
void check_refusal(const loam_cli_test::Result& r, int code, std::vector<std::string> parts) {
  CHECK_EQ(r.code, code);
  CHECK_EQ(r.out, std::string());
  CHECK(r.err.rfind("loam: error: ", 0) == 0);
  CHECK_EQ(r.err.find('\n'), r.err.size() - 1);
  for (const std::string& p : parts) {
    if (r.err.find(p) == std::string::npos) {
      loam_test::record_failure(__FILE__, __LINE__, "stderr \"" + r.err + "\" lacks \"" + p + "\"");
    }
  }
}

std::string tiny_model() {
  static const std::string path = loam_test::write_tiny("limits-tiny.gguf", loam_test::TinyLlamaSpec{});
  return path;
}

// Runs fn in a child process and returns the child's peak resident set in KiB (-1 on failure):
// a peak taken in this process would include whatever the other cases allocated.
template <class Fn>
long child_peak_rss_kib(Fn fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  struct rusage usage {};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    return -1;
  return usage.ru_maxrss;
}

}  // namespace

TEST_CASE("Session::memory_bytes saturates instead of wrapping around") {
  ModelConfig c;
  c.n_embd = 1 << 20;
  c.n_layer = 1024;
  c.n_ff = 1 << 22;
  c.n_head = 1;
  c.n_head_kv = 1;
  c.head_dim = 1 << 20;
  c.n_rot = 1 << 20;
  c.n_vocab = 1 << 22;
  // K and V: 2 caches x 1024 layers x (2^31 - 1) positions x 2^20 floats x 4 bytes is about
  // 2^64: the product must not wrap around to a small number that would pass the check.
  CHECK_EQ(Session::memory_bytes(c, INT_MAX, 512, loam::DType::F32, loam::DType::F32), UINT64_MAX);
  // Monotonic where it does fit.
  const uint64_t a = Session::memory_bytes(c, 1 << 10, 1), b = Session::memory_bytes(c, 1 << 11, 1);
  CHECK(a < b);
  CHECK(b < UINT64_MAX);
}

TEST_CASE("Session::resolve gives the defaults create() uses") {
  ModelConfig c;
  c.n_ctx_train = 2048;
  SessionOptions o;
  const SessionOptions r = Session::resolve(c, o);
  CHECK_EQ(r.n_ctx, 2048);
  CHECK(r.n_threads >= 1);
  c.n_ctx_train = 1 << 20;
  CHECK_EQ(Session::resolve(c, o).n_ctx, 4096);
  o.n_ctx = 77;
  o.n_threads = 3;
  CHECK_EQ(Session::resolve(c, o).n_ctx, 77);
  CHECK_EQ(Session::resolve(c, o).n_threads, 3);
}

TEST_CASE("Session::create refuses a context above 2^20 and says how many bytes it needs") {
  auto model = std::make_shared<loam::Model>();
  REQUIRE(loam::load_model(tiny_model(), loam::LoadOptions{}, *model));
  std::unique_ptr<Session> s;
  SessionOptions o;
  o.n_ctx = 100000000;
  o.n_threads = 1;
  CHECK_ERROR(Session::create(model, o, s), "context size 100000000", "larger than 1048576",
              " bytes)");
  CHECK(!s);
}

TEST_CASE("run and logits refuse a context that does not fit, with the bytes, exit 1") {
  using loam_cli_test::run;
  const std::string m = tiny_model();
  // 2 x 2 layers x (2^31 - 1) x 16 floats x 4 bytes: 1 TiB, more than any test machine has.
  check_refusal(run({"run", "-m", m, "-c", "2147483647", "-p", "t3"}), 1,
                {"a context of 2147483647 tokens (-c) needs", " bytes) but ", "are available (",
                 "a smaller -c"});
  check_refusal(run({"logits", "-m", m, "-c", "2147483647", "--tokens", "1,2", "-o",
                     tmp("l.f32")}), 1, {"a context of 2147483647 tokens (-c) needs"});
  // --max-memory stands in for a small machine: the KV cache of 4096 positions is 1 MiB here.
  check_refusal(run({"run", "-m", m, "-c", "4096", "--max-memory", "100K", "-p", "t3"}), 1,
                {"a context of 4096 tokens (-c) needs", "(102400 bytes) are available (--max-memory)"});
  check_refusal(run({"logits", "-m", m, "--max-memory", "1K", "--tokens", "1", "-o", tmp("l.f32")}),
                1, {"(1024 bytes) are available (--max-memory)"});
  // A cap the session fits under changes nothing.
  const loam_cli_test::Result ok = run({"run", "-m", m, "-c", "64", "--max-memory", "1G", "-p",
                                        "t3", "-n", "4", "--temp", "0"});
  CHECK_EQ(ok.code, 0);
  const loam_cli_test::Result logits =
      run({"logits", "-m", m, "--max-memory", "1G", "--tokens", "1,2", "-o", tmp("ok.f32")});
  CHECK_EQ(logits.code, 0);
  // A size that is not one is a usage error.
  check_refusal(run({"run", "-m", m, "--max-memory", "lots", "-p", "x"}), 2,
                {"--max-memory expects a size", "'lots'", "--help"});
  check_refusal(run({"logits", "-m", m, "--max-memory", "0", "--tokens", "1", "-o", tmp("x")}), 2,
                {"--max-memory expects a size"});
}

TEST_CASE("the repacked weight copies are counted before they are made") {
  // A Q4_0 copy of the tiny model: on AVX2 its weights are repacked into interleaved copies.
  const std::string q4 = tmp("limits-tiny-q4_0.gguf");
  loam::QuantizeOptions qo;
  qo.file_type = loam::FileType::MostlyQ4_0;
  qo.n_threads = 1;
  loam_test::TinyLlamaSpec spec;
  spec.n_ff = 64;  // rows of whole Q4_0 blocks
  REQUIRE(loam::quantize_model(loam_test::write_tiny("limits-tiny-64.gguf", spec), q4, qo));
  for (loam::Isa isa : {loam::Isa::Scalar, loam::Isa::Avx2, loam::Isa::Avx512, loam::Isa::Neon}) {
    if (loam::kernel_table_for(isa) == nullptr || !loam::isa_supported(isa)) continue;
    REQUIRE(loam::select_kernels(loam::isa_name(isa)));
    loam::LoadOptions lo;
    lo.interleave = false;
    loam::Model m;
    REQUIRE(loam::load_model(q4, lo, m));
    const uint64_t predicted = loam::interleaved_weight_bytes(m);
    REQUIRE(loam::interleave_weights(m));
    CHECK_EQ(predicted, static_cast<uint64_t>(m.interleaved_bytes));
    if (isa == loam::Isa::Avx2) CHECK(predicted > 0);  // AVX2 prefers interleaved Q4_0
    CHECK_EQ(loam::interleaved_weight_bytes(m), uint64_t{0});  // nothing left to copy
  }
  REQUIRE(loam::select_kernels(""));
}

TEST_CASE("a llama2.c tokenizer too small for the model's vocabulary is refused before reading") {
  Bytes b;
  b.u32(16);  // max_token_length, then one record
  const float score = 0.0f;
  b.raw(&score, 4).u32(1).raw("a", 1);
  const std::string path = b.write("small-tok.bin");
  loam::Vocab v;
  // 2^22 tokens need at least 32 MiB; nothing is allocated for them.
  CHECK_ERROR(loam::load_llama2c_tokenizer(path, 1 << 22, v), "small-tok.bin", "cannot hold 4194304 tokens");
  CHECK(loam::load_llama2c_tokenizer(path, 1, v));
  CHECK_ERROR(loam::load_llama2c_tokenizer(tmp("no-such-tok.bin"), 4, v), "tokenizer file",
              "no-such-tok.bin");
}

TEST_CASE("vocabulary arrays whose length is not the token count are refused before converting") {
  loam_test::TinyLlamaSpec spec;
  spec.extra_keys.push_back({"tokenizer.ggml.token_type",
                             loam::GgufValue::make_raw_array(loam::GgufType::U8,
                                                             std::vector<uint8_t>(1000, 1))});
  CHECK_ERROR(loam_test::load(loam_test::write_tiny("vocab-types.gguf", spec)),
              "'tokenizer.ggml.token_type' has 1000 entries for 16 tokens");
}

TEST_CASE("arrays of arrays are capped at 2^20 elements") {
  // 2^20 + 1 empty arrays of u8, each 12 bytes: a 12 MiB file.
  Bytes b;
  b.header(0, 1).str("nest").u32(9).u32(9).u64((1u << 20) + 1);
  for (uint32_t i = 0; i < (1u << 20) + 1; ++i) b.u32(0).u64(0);
  loam::GgufFile f;
  CHECK_ERROR(loam::GgufFile::open(b.write("nest.gguf"), f), "nest.gguf", "'nest'",
              "more than 1048576 elements in nested arrays");
}

TEST_CASE("a count a file can back takes memory only as its entries are read") {
  // 256 MiB, sparse: the header says 20 million keys (13 bytes each would fit), the first key's
  // length runs past the end. Reserving room for those keys up front took ~4 GiB; now the parse
  // fails at the first key having allocated next to nothing. Same for a string array whose
  // count fits the bytes left (8 each) but whose first string does not.
  const uint64_t size = uint64_t{256} << 20;
  const std::string keys = tmp("sparse-keys.gguf"), strings = tmp("sparse-strings.gguf");
  Bytes k;
  k.header(0, (size - 24) / 13).u64(~uint64_t{0});
  loam_test::write_all(keys, k.b);
  Bytes s;
  s.header(0, 1).str("a").u32(9).u32(8);
  s.u64((size - s.b.size() - 8) / 8).u64(~uint64_t{0});
  loam_test::write_all(strings, s.b);
  REQUIRE(truncate(keys.c_str(), static_cast<off_t>(size)) == 0);
  REQUIRE(truncate(strings.c_str(), static_cast<off_t>(size)) == 0);
  for (const std::string& path : {keys, strings}) {
    loam::GgufFile f;
    CHECK_ERROR(loam::GgufFile::open(path, f), "string length");
    const long kib = child_peak_rss_kib([&] {
      loam::GgufFile g;
      (void)loam::GgufFile::open(path, g);
    });
    CHECK(kib > 0);
    CHECK(kib < 200 * 1024);  // ASan's shadow and quarantine included
    if (kib >= 200 * 1024) std::fprintf(stderr, "  %s: peak %ld KiB\n", path.c_str(), kib);
    unlink(path.c_str());
  }
}
