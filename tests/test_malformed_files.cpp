// Malformed, truncated and corrupt GGUF files (the format level; model-level refusals are in
// test_model_load.cpp): every one must give an error (never a crash, an over-read or a huge
// allocation) whose message names the file and the thing at fault.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/mmap_file.h"
#include "format_fixtures.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"

using loam::DType;
using loam::GgufFile;
using loam::GgufType;
using loam::GgufValue;
using loam::Status;
using loam_test::Bytes;
using loam_test::contains;
using loam_test::for_each_truncation;
using loam_test::load;
using loam_test::tmp;
using loam_test::write_tiny;

namespace {

Status open_gguf(const std::string& path) {
  GgufFile f;
  return GgufFile::open(path, f);
}

// A small valid GGUF with metadata of several types and three tensors.
std::vector<uint8_t> small_gguf() {
  loam::GgufWriter w;
  w.set("general.architecture", GgufValue::make_string("test"));
  w.set("a.u32", GgufValue::make_u32(7));
  w.set("a.strings", GgufValue::make_string_array({"x", "yy", ""}));
  w.set("a.floats", GgufValue::make_f32_array({1.0f, 2.0f}));
  w.set("a.nested", GgufValue::make_nested_array({GgufValue::make_i32_array({1, 2})}));
  const float f[4] = {1, 2, 3, 4};
  const uint16_t h[16] = {};
  const std::vector<uint8_t> q(34 * 2, 0x22);
  Status st = w.add_tensor("t.f32", DType::F32, {4}, f, sizeof f);
  if (st) st = w.add_tensor("t.f16", DType::F16, {8, 2}, h, sizeof h);
  if (st) st = w.add_tensor("t.q8", DType::Q8_0, {32, 2}, q.data(), q.size());
  const std::string path = tmp("small-src.gguf");
  if (st) st = w.write(path);
  return st ? loam_test::read_all(path) : std::vector<uint8_t>();
}

// Position just after the name of tensor `name` in its tensor info (n_dims comes next).
size_t tensor_info_at(const std::vector<uint8_t>& bytes, const std::string& name) {
  const std::string needle = std::string(1, static_cast<char>(name.size())) +
                             std::string(7, '\0') + name;
  const auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  return it == bytes.end() ? 0 : static_cast<size_t>(it - bytes.begin()) + needle.size();
}

template <class T>
void poke(std::vector<uint8_t>& bytes, size_t pos, T v) {
  std::memcpy(bytes.data() + pos, &v, sizeof v);
}

// Layout of one tensor info after its name: n_dims, ne[n_dims], type, offset.
struct InfoPos {
  size_t n_dims, ne, type, offset;
};
InfoPos info_pos(const std::vector<uint8_t>& bytes, const std::string& name) {
  const size_t p = tensor_info_at(bytes, name);
  uint32_t n_dims = 0;
  if (p) std::memcpy(&n_dims, bytes.data() + p, 4);
  return {p, p + 4, p + 4 + 8 * n_dims, p + 8 + 8 * n_dims};
}

}  // namespace

// ---- files that are not there or not files ----------------------------------------------------

TEST_CASE("missing file, directory, empty file") {
  const std::string missing = tmp("does-not-exist.gguf");
  CHECK_ERROR(open_gguf(missing), "cannot open", missing.c_str(), "No such file or directory");
  CHECK_ERROR(load(missing), "cannot open", "No such file or directory");
  loam::Vocab v;
  CHECK_ERROR(loam::load_gguf_vocab(missing, v), "cannot open", "No such file or directory");

  const std::string dir = tmp("a-directory.gguf");
  mkdir(dir.c_str(), 0700);
  CHECK_ERROR(open_gguf(dir), "a-directory.gguf", "directory");
  CHECK_ERROR(load(dir), "a-directory.gguf", "directory");

  const std::string empty = Bytes{}.write("empty.gguf");
  const std::string empty_msg = empty + " is empty";
  CHECK_ERROR(open_gguf(empty), empty_msg.c_str());
  CHECK_ERROR(load(empty), "is empty");
}

TEST_CASE("wrong magic") {
  Bytes b;
  b.raw("GGUX", 4).u32(3).u64(0).u64(0);
  const std::string path = b.write("magic.gguf");
  CHECK_ERROR(open_gguf(path), "magic.gguf", "not a GGUF file");
  // load_model falls back to the llama2.c reader, whose header check fails too.
  CHECK_ERROR(load(path), "magic.gguf", "not a GGUF or llama2.c model file");
  const std::string text = Bytes{}.raw("hello, world\n", 13).write("text.txt");
  CHECK_ERROR(load(text), "text.txt", "not a GGUF or llama2.c model file");
  const std::string short_file = Bytes{}.raw("GG", 2).write("short.gguf");
  CHECK_ERROR(open_gguf(short_file), "short.gguf", "truncated");
}

TEST_CASE("GGUF versions 1 and 4 are refused") {
  for (uint32_t version : {0u, 1u, 4u, 1000u}) {
    Bytes b;
    b.header(0, 0, version).pad(64);
    const std::string path = b.write("version.gguf");
    const std::string want = "unsupported GGUF version " + std::to_string(version);
    CHECK_ERROR(open_gguf(path), "version.gguf", want.c_str());
    CHECK_ERROR(load(path), want.c_str());
  }
  Bytes big_endian;
  big_endian.raw("GGUF", 4).u32(0x03000000u).u64(0).u64(0);
  CHECK_ERROR(open_gguf(big_endian.write("be.gguf")), "big-endian");
  // Versions 2 and 3 are read.
  Bytes v2;
  v2.header(0, 0, 2);
  CHECK(open_gguf(v2.write("v2.gguf")).is_ok());
}

// ---- truncation -------------------------------------------------------------------------------

TEST_CASE("a small GGUF truncated at every length gives an error") {
  const std::vector<uint8_t> full = small_gguf();
  REQUIRE(!full.empty());
  const std::string whole = tmp("small-whole.gguf");
  loam_test::write_all(whole, full);
  GgufFile ok;
  REQUIRE(GgufFile::open(whole, ok).is_ok());
  REQUIRE(ok.tensors().size() == 3);
  const std::string path = tmp("small-cut.gguf");
  size_t failures = 0;
  for_each_truncation(path, full, [&](size_t n) {
    const Status st = open_gguf(path);
    if (!st) ++failures;
    else std::fprintf(stderr, "  truncation to %zu bytes was accepted\n", n);
    CHECK(!load(path));
    // Every message names the file.
    if (!st && !contains(st.message(), "small-cut.gguf")) {
      std::fprintf(stderr, "  message without file name: %s\n", st.message().c_str());
      CHECK(false);
    }
  });
  CHECK_EQ(failures, full.size());
  // A cut inside the tensor data names the tensor that no longer fits.
  loam_test::write_all(path, std::vector<uint8_t>(full.begin(), full.end() - 1));
  CHECK_ERROR(open_gguf(path), "tensor 't.q8'", "beyond the end of the file");
  // A cut inside the metadata says what was being read.
  const size_t in_strings = tensor_info_at(full, "t.f32") / 2;
  loam_test::write_all(path, std::vector<uint8_t>(full.begin(), full.begin() + in_strings));
  CHECK_ERROR(open_gguf(path), "small-cut.gguf");
}

TEST_CASE("a tiny llama model truncated at every length gives an error") {
  const loam_test::TinyLlamaSpec spec = loam_test::smallest_llama();
  const std::string src = write_tiny("tiny-src.gguf", spec);
  REQUIRE(load(src).is_ok());
  const std::vector<uint8_t> full = loam_test::read_all(src);
  const std::string path = tmp("tiny-cut.gguf");
  size_t failures = 0;
  for_each_truncation(path, full, [&](size_t) { failures += !load(path); });
  CHECK_EQ(failures, full.size());
}

// ---- tensor infos -----------------------------------------------------------------------------

TEST_CASE("tensor data out of bounds") {
  std::vector<uint8_t> b = small_gguf();
  REQUIRE(!b.empty());
  const InfoPos q8 = info_pos(b, "t.q8");
  REQUIRE(q8.n_dims != 0);
  poke<uint64_t>(b, q8.ne + 8, 3);  // 3 rows where the file holds 2
  const std::string path = tmp("oob.gguf");
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "oob.gguf", "tensor 't.q8'", "beyond the end of the file");

  b = small_gguf();
  const InfoPos f32 = info_pos(b, "t.f32");
  poke<uint64_t>(b, f32.offset, uint64_t{1} << 62);  // aligned, far beyond the file
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f32'", "beyond the end of the file");
  poke<uint64_t>(b, f32.offset, ~uint64_t{0} - 31);  // offset + data start would wrap around
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f32'", "beyond the end of the file");
}

TEST_CASE("misaligned tensor offset") {
  std::vector<uint8_t> b = small_gguf();
  REQUIRE(!b.empty());
  const InfoPos f16 = info_pos(b, "t.f16");
  uint64_t offset = 0;
  std::memcpy(&offset, b.data() + f16.offset, 8);
  CHECK_EQ(offset % 32, uint64_t{0});
  poke<uint64_t>(b, f16.offset, offset + 4);
  const std::string path = tmp("misaligned.gguf");
  loam_test::write_all(path, b);
  const std::string want =
      "offset " + std::to_string(offset + 4) + " is not a multiple of the alignment 32";
  CHECK_ERROR(open_gguf(path), "tensor 't.f16'", want.c_str());
}

TEST_CASE("bad dimensions: too many, zero, overflowing") {
  std::vector<uint8_t> b = small_gguf();
  REQUIRE(!b.empty());
  const InfoPos f32 = info_pos(b, "t.f32");
  const std::string path = tmp("dims.gguf");
  poke<uint32_t>(b, f32.n_dims, 5);
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f32'", "5 dimensions");
  poke<uint32_t>(b, f32.n_dims, 0);
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f32'", "0 dimensions");

  b = small_gguf();
  poke<uint64_t>(b, f32.ne, 0);
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f32'", "zero-length dimension");

  b = small_gguf();
  const InfoPos f16 = info_pos(b, "t.f16");
  poke<uint64_t>(b, f16.ne, uint64_t{1} << 40);
  poke<uint64_t>(b, f16.ne + 8, uint64_t{1} << 40);
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f16'", "element count overflows");
  // Each dimension fits but the byte count is checked against the file without overflow.
  poke<uint64_t>(b, f16.ne, uint64_t{1} << 31);
  poke<uint64_t>(b, f16.ne + 8, uint64_t{1} << 31);
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.f16'", "beyond the end of the file");
}

TEST_CASE("unknown tensor type number, row not whole blocks") {
  std::vector<uint8_t> b = small_gguf();
  REQUIRE(!b.empty());
  const InfoPos f16 = info_pos(b, "t.f16");
  const std::string path = tmp("type.gguf");
  for (uint32_t type : {4u, 5u, 31u, 99u, 0xffffffffu}) {
    poke<uint32_t>(b, f16.type, type);
    loam_test::write_all(path, b);
    const std::string want = "unknown type number " + std::to_string(type);
    CHECK_ERROR(open_gguf(path), "tensor 't.f16'", want.c_str());
  }
  b = small_gguf();
  const InfoPos q8 = info_pos(b, "t.q8");
  poke<uint64_t>(b, q8.ne, 48);  // 1.5 blocks per row
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "tensor 't.q8'", "row length 48", "Q8_0 block size 32");
}

TEST_CASE("duplicate keys and tensor names") {
  std::vector<uint8_t> b = small_gguf();
  REQUIRE(!b.empty());
  const std::string path = tmp("dup.gguf");
  // Rename tensor "t.f16" to "t.f32" in place (same length).
  const size_t p = tensor_info_at(b, "t.f16");
  REQUIRE(p != 0);
  std::memcpy(b.data() + p - 3, "f32", 3);
  loam_test::write_all(path, b);
  CHECK_ERROR(open_gguf(path), "dup.gguf", "duplicate tensor name 't.f32'");

  Bytes k;
  k.header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  CHECK_ERROR(open_gguf(k.write("dupkey.gguf")), "dupkey.gguf", "duplicate key 'k'");
}

// ---- absurd counts and lengths ----------------------------------------------------------------

TEST_CASE("absurd counts and lengths are refused before allocating") {
  const uint64_t huge = uint64_t{1} << 60;
  Bytes t;
  t.header(huge, 0).pad(64);
  CHECK_ERROR(open_gguf(t.write("ntensors.gguf")), "ntensors.gguf", "implausible tensor count");
  Bytes kv;
  kv.header(0, huge).pad(64);
  CHECK_ERROR(open_gguf(kv.write("nkv.gguf")), "nkv.gguf", "implausible metadata count");
  Bytes both;  // each count alone fits, together they do not
  both.header(2, 2).pad(60);
  CHECK_ERROR(open_gguf(both.write("both.gguf")), "implausible");

  Bytes key;
  key.header(0, 1).u64(huge).pad(64);
  CHECK_ERROR(open_gguf(key.write("keylen.gguf")), "key of metadata entry 0",
              "string length 1152921504606846976");
  Bytes val;
  val.header(0, 1).str("general.name").u32(8).u64(huge).pad(64);
  CHECK_ERROR(open_gguf(val.write("strlen.gguf")), "'general.name'", "string length");
  Bytes arr;
  arr.header(0, 1).str("big.array").u32(9).u32(4).u64(huge).pad(64);
  CHECK_ERROR(open_gguf(arr.write("arrlen.gguf")), "'big.array'", "implausible array length");
  Bytes sarr;  // strings take at least 8 bytes each
  sarr.header(0, 1).str("s").u32(9).u32(8).u64(8).pad(60);
  CHECK_ERROR(open_gguf(sarr.write("strarr.gguf")), "'s'", "implausible array length 8");
  Bytes tname;
  tname.header(1, 0).u64(huge).pad(64);
  CHECK_ERROR(open_gguf(tname.write("tname.gguf")), "name of tensor info 0", "string length");
}

TEST_CASE("bad value types and nesting") {
  Bytes t;
  t.header(0, 1).str("k").u32(13).u32(0);
  CHECK_ERROR(open_gguf(t.write("vtype.gguf")), "key 'k'", "unknown value type 13");
  Bytes a;
  a.header(0, 1).str("k").u32(9).u32(77).u64(0);
  CHECK_ERROR(open_gguf(a.write("atype.gguf")), "key 'k'", "array of unknown type 77");
  Bytes deep;
  deep.header(0, 1).str("deep").u32(9);
  for (int i = 0; i < 20; ++i) deep.u32(9).u64(1);
  deep.u32(4).u64(0);
  CHECK_ERROR(open_gguf(deep.write("deep.gguf")), "deep", "nested too deeply");
  Bytes empty_key;
  empty_key.header(0, 1).str("").u32(4).u32(0);
  CHECK_ERROR(open_gguf(empty_key.write("emptykey.gguf")), "empty key");
}

TEST_CASE("general.alignment must be a power of two") {
  for (uint32_t align : {0u, 3u, 48u}) {
    loam::GgufWriter w;
    w.set("general.alignment", GgufValue::make_u32(align));
    const std::string path = tmp("align.gguf");
    REQUIRE(w.write(path).is_ok());
    CHECK_ERROR(open_gguf(path), "general.alignment", "not a power of two");
  }
  loam::GgufWriter w;
  w.set("general.alignment", GgufValue::make_string("32"));
  const std::string path = tmp("align.gguf");
  REQUIRE(w.write(path).is_ok());
  CHECK_ERROR(open_gguf(path), "general.alignment", "expected an integer");
}

// ---- random corruption ------------------------------------------------------------------------

TEST_CASE("random byte corruptions never crash and never yield out-of-file tensors") {
  const loam_test::TinyLlamaSpec spec = loam_test::smallest_llama();
  const std::string path = write_tiny("corrupt.gguf", spec);
  const std::vector<uint8_t> full = loam_test::read_all(path);
  REQUIRE(!full.empty());
  // Corrupt the header and tensor infos (the first ~1 KB), where the structure lives.
  const size_t span = std::min<size_t>(full.size(), 1024);
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  REQUIRE(f != nullptr);
  int opened = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t pos = static_cast<size_t>(next() % span);
    const uint8_t value = static_cast<uint8_t>(next());
    // Patch one byte in place (cheap), check, then restore it.
    std::fseek(f, static_cast<long>(pos), SEEK_SET);
    std::fputc(value, f);
    std::fflush(f);
    GgufFile g;
    if (GgufFile::open(path, g).is_ok()) {
      ++opened;
      for (const loam::GgufTensorInfo& t : g.tensors()) {
        const uint8_t* begin = g.mapping()->data();
        CHECK(t.data >= begin && t.data + t.nbytes <= begin + g.mapping()->size());
      }
    }
    loam::Model m;
    (void)loam::load_model(path, loam::LoadOptions{}, m);  // ok or error: must not crash
    std::fseek(f, static_cast<long>(pos), SEEK_SET);
    std::fputc(full[pos], f);
    std::fflush(f);
  }
  std::fclose(f);
  CHECK(opened > 0);  // many flips hit string bytes or values and leave a readable file
}
