// Hostile model files, made systematically: a small valid GGUF written by our writer is walked
// field by field, then cut at every section boundary (header, each key and value, each tensor
// table entry, the data start) and given extreme values and flipped high bits in every count,
// offset, type and string length; a llama2.c checkpoint gets the same for its header. Every one
// of those files is invalid, and each must give an error (a one-line message naming the file)
// from load_model, and exit status 1 with one "loam: error:" line from `loam info` / `loam run`
// for a sample of them: never a crash, a signal or an accepted file. Under ASan/UBSan (CI) this
// also shows any out-of-bounds read or undefined arithmetic on the way.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "core/mmap_file.h"
#include "format_fixtures.h"
#include "harness/test.h"
#include "loam/gguf.h"
#include "loam/model.h"

using loam_test::tmp;

namespace {

// One integer field of the file: where it is, how wide, and what it is.
struct Field {
  size_t pos;
  int width;  // 4 or 8 bytes
  std::string what;
};

// The structure of a GGUF file written by our writer (trusted: walked without checks beyond the
// bounds), as the fields a mutation can hit and the offsets where a section starts or ends.
struct Layout {
  std::vector<Field> fields;
  std::vector<std::pair<size_t, std::string>> cuts;  // (length to cut to, what is cut off)
};

class Walker {
 public:
  explicit Walker(const std::vector<uint8_t>& b) : b_(b) {}

  Layout walk() {
    cut("magic");
    pos_ = 4;
    u32("version");
    const uint64_t n_tensors = u64("tensor count");
    const uint64_t n_kv = u64("metadata count");
    for (uint64_t i = 0; i < n_kv && ok(); ++i) {
      const std::string key = str("key length of entry " + std::to_string(i));
      cut("the type of '" + key + "'");
      const uint32_t type = u32("value type of '" + key + "'");
      cut("the value of '" + key + "'");
      value(type, "'" + key + "'");
      cut("the entry after '" + key + "'");
    }
    uint32_t alignment = 32;
    for (uint64_t i = 0; i < n_tensors && ok(); ++i) {
      const std::string name = str("name length of tensor " + std::to_string(i));
      const std::string tn = "tensor '" + name + "'";
      cut("the dimension count of " + tn);
      const uint32_t n_dims = u32("dimension count of " + tn);
      for (uint32_t d = 0; d < n_dims && ok(); ++d) {
        cut("dimension " + std::to_string(d) + " of " + tn);
        u64("dimension " + std::to_string(d) + " of " + tn);
      }
      cut("the type of " + tn);
      u32("type of " + tn);
      cut("the offset of " + tn);
      u64("offset of " + tn);
      cut("the table entry after " + tn);
    }
    const size_t data = (pos_ + alignment - 1) / alignment * alignment;
    layout_.cuts.push_back({data, "the data section"});
    layout_.cuts.push_back({data + 1, "all but one byte of the first tensor"});
    layout_.cuts.push_back({b_.size() - 1, "the last byte"});
    return layout_;
  }

  bool ok() const { return pos_ <= b_.size(); }

 private:
  void cut(const std::string& what) { layout_.cuts.push_back({pos_, what}); }
  uint32_t u32(const std::string& what) {
    layout_.fields.push_back({pos_, 4, what});
    uint32_t v = 0;
    if (pos_ + 4 <= b_.size()) std::memcpy(&v, b_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  uint64_t u64(const std::string& what) {
    layout_.fields.push_back({pos_, 8, what});
    uint64_t v = 0;
    if (pos_ + 8 <= b_.size()) std::memcpy(&v, b_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string str(const std::string& what) {
    const uint64_t len = u64(what);
    if (len > 0) cut("inside the string of " + what);
    std::string s;
    if (pos_ + len <= b_.size()) s.assign(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return s;
  }
  void value(uint32_t type, const std::string& key) {
    switch (static_cast<loam::GgufType>(type)) {
      case loam::GgufType::String:
        str("string length of " + key);
        return;
      case loam::GgufType::Array: {
        const uint32_t elem = u32("array type of " + key);
        const uint64_t n = u64("array length of " + key);
        if (static_cast<loam::GgufType>(elem) == loam::GgufType::String) {
          for (uint64_t i = 0; i < n && ok(); ++i) {
            str("length of element " + std::to_string(i) + " of " + key);
          }
        } else {
          if (n > 0) cut("inside the array " + key);
          pos_ += n * loam::gguf_type_size(static_cast<loam::GgufType>(elem));
        }
        return;
      }
      default:
        pos_ += loam::gguf_type_size(static_cast<loam::GgufType>(type));
    }
  }

  const std::vector<uint8_t>& b_;
  size_t pos_ = 0;
  Layout layout_;
};

struct Mutant {
  std::string what;
  std::vector<uint8_t> bytes;
};

void put(std::vector<uint8_t>& b, const Field& f, uint64_t v) {
  if (f.width == 4) {
    const uint32_t x = static_cast<uint32_t>(v);
    std::memcpy(b.data() + f.pos, &x, 4);
  } else {
    std::memcpy(b.data() + f.pos, &v, 8);
  }
}

uint64_t get(const std::vector<uint8_t>& b, const Field& f) {
  uint64_t v = 0;
  std::memcpy(&v, b.data() + f.pos, static_cast<size_t>(f.width));
  return v;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Every mutation below makes the file invalid (each was chosen so that no reading of the bytes
// can be a valid model of this spec): a value no field may take, or a value beyond the file.
std::vector<Mutant> gguf_mutants(const std::vector<uint8_t>& full, const Layout& layout) {
  std::vector<Mutant> out;
  std::vector<size_t> lengths;  // each cut once, though two boundaries may coincide
  for (const auto& c : layout.cuts) {
    if (c.first >= full.size() ||
        std::find(lengths.begin(), lengths.end(), c.first) != lengths.end())
      continue;
    lengths.push_back(c.first);
    out.push_back({"cut before " + c.second + " (" + std::to_string(c.first) + " bytes)",
                   std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(c.first))});
  }
  for (const Field& f : layout.fields) {
    const uint64_t was = get(full, f);
    std::vector<uint64_t> values;
    if (f.width == 8) {
      // Far beyond the file (a few KB) whatever the field: a count or length that cannot fit,
      // an offset or dimension whose data would lie outside it.
      for (int bit : {20, 32, 40, 48, 56, 62, 63}) values.push_back(was ^ (uint64_t{1} << bit));
      values.push_back(~uint64_t{0});
      values.push_back(uint64_t{1} << 63);
      values.push_back(was + (uint64_t{1} << 31));
    } else {
      // No version, value type, array type, dimension count or tensor type this large exists.
      for (int bit : {8, 16, 24, 31}) values.push_back(was ^ (uint32_t{1} << bit));
      values.push_back(0xffffffffu);
    }
    // Zero, where zero is itself invalid.
    if (starts_with(f.what, "key length") || starts_with(f.what, "name length") ||
        starts_with(f.what, "dimension ") || starts_with(f.what, "dimension count") ||
        f.what == "tensor count" || f.what == "metadata count" || f.what == "version")
      values.push_back(0);
    // A tensor type with 32-element blocks: no row of this model (8 elements) is whole blocks.
    if (starts_with(f.what, "type of tensor")) {
      values.push_back(static_cast<uint32_t>(loam::DType::Q8_0));
      values.push_back(static_cast<uint32_t>(loam::DType::Q4_0));
    }
    // An offset off the alignment.
    if (starts_with(f.what, "offset of")) values.push_back(was + 1);
    for (uint64_t v : values) {
      if (v == was) continue;
      Mutant m{f.what + " = " + std::to_string(v) + " (was " + std::to_string(was) + ")", full};
      put(m.bytes, f, v);
      out.push_back(std::move(m));
    }
  }
  return out;
}

// A llama2.c checkpoint: the 7-int header and exactly the floats it implies.
std::vector<uint8_t> small_llama2c() {
  const int32_t dim = 8, hidden = 8, layers = 1, heads = 2, kv_heads = 1, vocab = 4, seq = 4;
  const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
  const int hs = dim / heads, kv_dim = kv_heads * hs;
  const size_t floats = vocab * dim + layers * (2 * dim + dim * dim + 2 * kv_dim * dim + dim * dim) +
                        layers * 3 * hidden * dim + dim + seq * hs;
  std::vector<uint8_t> b(sizeof header + floats * 4);
  std::memcpy(b.data(), header, sizeof header);
  for (size_t i = 0; i < floats; ++i) {
    const float v = loam_test::tiny_weight(1, static_cast<int64_t>(i));
    std::memcpy(b.data() + sizeof header + 4 * i, &v, 4);
  }
  return b;
}

std::vector<Mutant> llama2c_mutants(const std::vector<uint8_t>& full) {
  static const char* const kNames[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                        "n_kv_heads", "vocab_size", "seq_len"};
  std::vector<Mutant> out;
  for (size_t n = 0; n < 28; ++n) {
    out.push_back({"llama2.c header cut to " + std::to_string(n) + " bytes",
                   std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(n))});
  }
  for (size_t n : {size_t{28}, size_t{32}, full.size() / 2, full.size() - 4, full.size() - 1}) {
    out.push_back({"llama2.c weights cut to " + std::to_string(n) + " bytes",
                   std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(n))});
  }
  std::vector<uint8_t> longer = full;
  longer.insert(longer.end(), 4, 0);
  out.push_back({"llama2.c checkpoint with 4 bytes too many", longer});
  for (int f = 0; f < 7; ++f) {
    int32_t was = 0;
    std::memcpy(&was, full.data() + 4 * f, 4);
    // Every header field enters the expected file size, so any other value is refused: absurd
    // ones by the header checks, plausible ones by the size.
    for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{INT32_MAX}, int64_t{INT32_MIN},
                      int64_t{1} << 30, int64_t{was} + 1, int64_t{was} * 2, int64_t{was} ^ (1 << 20)}) {
      if (v == was || (f == 5 && v == -was)) continue;  // -vocab is a valid (unshared) header
      Mutant m{std::string("llama2.c ") + kNames[f] + " = " + std::to_string(v), full};
      const int32_t x = static_cast<int32_t>(v);
      std::memcpy(m.bytes.data() + 4 * f, &x, 4);
      out.push_back(std::move(m));
    }
  }
  return out;
}

// Loads each mutant from `path`; counts those refused with a proper message. Reports the rest.
size_t check_refused(const std::vector<Mutant>& mutants, const std::string& path) {
  size_t refused = 0;
  for (const Mutant& m : mutants) {
    loam_test::write_all(path, m.bytes);
    loam::Model model;
    const loam::Status st = loam::load_model(path, loam::LoadOptions{}, model);
    const bool good = !st && !st.message().empty() && st.message().find('\n') == std::string::npos &&
                      st.message().find(path) != std::string::npos;
    if (good) {
      // A few examples in the log, to read what users of such files are told.
      if (refused++ % 100 == 0) std::fprintf(stderr, "    %s -> %s\n", m.what.c_str(), st.message().c_str());
    } else {
      std::fprintf(stderr, "  %s: %s\n", m.what.c_str(),
                   st ? "accepted" : ("message: " + st.message()).c_str());
    }
  }
  return refused;
}

// `loam info FILE` and `loam run -m FILE` on every step-th mutant: exit 1 and exactly one
// "loam: error: " line naming the file, nothing on stdout.
size_t check_cli(const std::vector<Mutant>& mutants, size_t step, const std::string& path) {
  size_t checked = 0;
  for (size_t i = 0; i < mutants.size(); i += step) {
    loam_test::write_all(path, mutants[i].bytes);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"info", path},
          std::vector<std::string>{"run", "-m", path, "-p", "x", "-n", "1"}}) {
      const loam_cli_test::Result r = loam_cli_test::run(args);
      const bool good = r.code == 1 && r.out.empty() && starts_with(r.err, "loam: error: ") &&
                        r.err.find('\n') == r.err.size() - 1 && r.err.find(path) != std::string::npos;
      CHECK(good);
      if (!good) {
        std::fprintf(stderr, "  %s %s: exit %d, stderr: %s\n", args[0].c_str(),
                     mutants[i].what.c_str(), r.code, r.err.c_str());
      }
      ++checked;
    }
  }
  return checked;
}

const std::vector<uint8_t>& valid_gguf() {
  static const std::vector<uint8_t> bytes = [] {
    const std::string path = loam_test::write_tiny("mutant-src.gguf", loam_test::smallest_llama());
    return loam_test::read_all(path);
  }();
  return bytes;
}

}  // namespace

TEST_CASE("the walked layout covers the whole valid file, which loads") {
  const std::vector<uint8_t>& full = valid_gguf();
  REQUIRE(!full.empty());
  const std::string path = tmp("mutant-valid.gguf");
  loam_test::write_all(path, full);
  REQUIRE(loam_test::load(path));
  const Layout layout = Walker(full).walk();
  // Header, 16 keys, 12 tensors (token_embd, 9 per layer, output_norm, output).
  CHECK(layout.fields.size() > 80);
  CHECK(layout.cuts.size() > 80);
  size_t last = 0;
  for (const Field& f : layout.fields) last = std::max(last, f.pos + static_cast<size_t>(f.width));
  CHECK(last < full.size());
  // The walk agrees with the reader on where the data starts.
  loam::GgufFile g;
  REQUIRE(loam::GgufFile::open(path, g));
  CHECK_EQ(layout.cuts[layout.cuts.size() - 3].first,
           static_cast<size_t>(g.tensors().front().data - g.mapping()->data()));
}

TEST_CASE("hundreds of mutated GGUF files: each refused with a one-line message naming it") {
  const std::vector<uint8_t>& full = valid_gguf();
  REQUIRE(!full.empty());
  const std::vector<Mutant> mutants = gguf_mutants(full, Walker(full).walk());
  std::fprintf(stderr, "  %zu mutated GGUF files\n", mutants.size());
  CHECK(mutants.size() >= 300);
  CHECK_EQ(check_refused(mutants, tmp("mutant.gguf")), mutants.size());
}

TEST_CASE("mutated llama2.c checkpoints: truncated headers and absurd dims are refused") {
  const std::vector<uint8_t> full = small_llama2c();
  const std::string path = tmp("mutant-valid.bin");
  loam_test::write_all(path, full);
  REQUIRE(loam_test::load(path));
  const std::vector<Mutant> mutants = llama2c_mutants(full);
  std::fprintf(stderr, "  %zu mutated llama2.c files\n", mutants.size());
  CHECK(mutants.size() >= 60);
  CHECK_EQ(check_refused(mutants, tmp("mutant.bin")), mutants.size());
}

TEST_CASE("a sample of the mutated files through loam info and loam run: exit 1, one line") {
  const std::vector<uint8_t>& full = valid_gguf();
  REQUIRE(!full.empty());
  const std::vector<Mutant> gguf = gguf_mutants(full, Walker(full).walk());
  const std::vector<Mutant> bin = llama2c_mutants(small_llama2c());
  // About 30 GGUF and 8 llama2.c files, each through both commands.
  const size_t checked = check_cli(gguf, gguf.size() / 30 + 1, tmp("cli-mutant.gguf")) +
                         check_cli(bin, bin.size() / 8 + 1, tmp("cli-mutant.bin"));
  CHECK(checked >= 70);
}
