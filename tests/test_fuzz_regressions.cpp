// The fuzz targets' bodies (tests/fuzz/fuzz_bodies.h) in the normal suite, so they are built and
// run without clang: over their seeds (tests/fuzz/fuzz_seeds.h, generated and committed), which
// must be read, over seeded cuts and corruptions of those seeds, and over every input a fuzzer
// once crashed on (tests/fuzz/regressions/<target>/), which must now give a clean error.
#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

// ArgParser is compiled into the `loam` executable, not into loam_core: this test takes it in
// directly, as the fuzz_args target does.
#include "cli/args.cpp"
#include "fuzz/fuzz_bodies.h"
#include "fuzz/fuzz_seeds.h"
#include "harness/test.h"

namespace {

using loam_fuzz::FuzzResult;
using loam_fuzz::Seed;
using Body = FuzzResult (*)(const uint8_t*, size_t);

FuzzResult run(Body body, const std::string& bytes) {
  return body(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// Runs `body` on `seed`; the body must keep its promises and, when `must_accept`, take the input.
void check_seed(Body body, const Seed& seed, bool must_accept) {
  const FuzzResult r = run(body, seed.bytes);
  if (!r.broken.empty()) {
    loam_test::record_failure(__FILE__, __LINE__, seed.name + ": " + r.broken);
  }
  if (must_accept && !r.accepted) {
    loam_test::record_failure(__FILE__, __LINE__, seed.name + " rejected: " + r.error);
  }
}

// The regular files of a directory, by name; none when it does not exist.
std::vector<Seed> files_in(const std::string& dir) {
  std::vector<Seed> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == ".." || name == "README.md") continue;
      files.push_back({name, loam_fuzz::read_file(dir + "/" + name)});
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end(),
            [](const Seed& a, const Seed& b) { return a.name < b.name; });
  return files;
}

// Every prefix of `seed`, then `n` copies with 1 to 4 bytes overwritten at random (fixed seed):
// the body must keep its promises on all of them (it may reject them).
void check_mutations(Body body, const Seed& seed, int n) {
  std::string bytes = seed.bytes;
  for (size_t len = bytes.size(); len-- > 0;) {
    const FuzzResult r = run(body, bytes.substr(0, len));
    if (!r.broken.empty()) {
      loam_test::record_failure(__FILE__, __LINE__,
                                seed.name + " cut to " + std::to_string(len) + ": " + r.broken);
      return;
    }
  }
  std::mt19937 rng(12345);
  for (int i = 0; i < n && !bytes.empty(); ++i) {
    std::string mutated = bytes;
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    const FuzzResult r = run(body, mutated);
    if (!r.broken.empty()) {
      loam_test::record_failure(__FILE__, __LINE__,
                                seed.name + " mutation " + std::to_string(i) + ": " + r.broken);
      return;
    }
  }
}

std::vector<Seed> gguf_seeds() {
  loam::Status st;
  std::vector<Seed> seeds = loam_fuzz::gguf_seeds(st);
  if (!st) loam_test::record_failure(__FILE__, __LINE__, "gguf seeds: " + st.message());
  return seeds;
}

const std::string kSource = LOAM_SOURCE_DIR;

}  // namespace

TEST_CASE("fuzz seeds: the generated GGUF files are read") {
  const std::vector<Seed> seeds = gguf_seeds();
  CHECK(seeds.size() >= 4);
  for (const Seed& s : seeds) check_seed(loam_fuzz::fuzz_gguf, s, true);
}

TEST_CASE("fuzz seeds: the generated llama2.c checkpoints and tokenizer.bin are read") {
  for (const Seed& s : loam_fuzz::llama2c_seeds()) {
    const bool checkpoint = s.name != "tokenizer.bin";
    check_seed(loam_fuzz::fuzz_llama2c, s, checkpoint);
    if (!checkpoint) {
      loam::Vocab vocab;
      const std::string path = loam_test::temp_dir() + "/tokenizer.bin";
      {
        std::ofstream f(path, std::ios::binary);
        f << s.bytes;
      }
      const loam::Status st = loam::load_llama2c_tokenizer(path, 12, vocab);
      CHECK(st);
      CHECK_EQ(vocab.size(), 12);
    }
  }
}

TEST_CASE("fuzz seeds: the committed text seeds keep the tokenizer's promises") {
  const std::vector<Seed> seeds = loam_fuzz::text_seeds(kSource, "tokenizer");
  CHECK(seeds.size() >= 4);
  for (const Seed& s : seeds) check_seed(loam_fuzz::fuzz_tokenizer, s, true);
}

TEST_CASE("fuzz seeds: the committed JSON documents parse and round-trip") {
  const std::vector<Seed> seeds = loam_fuzz::text_seeds(kSource, "json");
  CHECK(seeds.size() >= 4);
  for (const Seed& s : seeds) check_seed(loam_fuzz::fuzz_json, s, true);
}

TEST_CASE("fuzz seeds: the committed command lines parse") {
  const std::vector<Seed> seeds = loam_fuzz::text_seeds(kSource, "args");
  CHECK(seeds.size() >= 4);
  for (const Seed& s : seeds) check_seed(loam_fuzz::fuzz_args, s, true);
}

TEST_CASE("fuzz seeds: cut and corrupted seeds give clean errors") {
  for (const Seed& s : gguf_seeds()) {
    if (s.bytes.size() <= 2048) check_mutations(loam_fuzz::fuzz_gguf, s, 2000);
  }
  for (const Seed& s : loam_fuzz::llama2c_seeds()) {
    if (s.bytes.size() <= 4096) check_mutations(loam_fuzz::fuzz_llama2c, s, 300);
  }
  for (const Seed& s : loam_fuzz::text_seeds(kSource, "tokenizer")) {
    check_mutations(loam_fuzz::fuzz_tokenizer, s, 50);
  }
  for (const Seed& s : loam_fuzz::text_seeds(kSource, "json")) {
    check_mutations(loam_fuzz::fuzz_json, s, 200);
  }
  for (const Seed& s : loam_fuzz::text_seeds(kSource, "args")) {
    check_mutations(loam_fuzz::fuzz_args, s, 200);
  }
}

TEST_CASE("fuzz regressions: every input a fuzzer crashed on now gives a clean result") {
  const struct {
    const char* target;
    Body body;
  } targets[] = {{"gguf", loam_fuzz::fuzz_gguf},
                 {"llama2c", loam_fuzz::fuzz_llama2c},
                 {"tokenizer", loam_fuzz::fuzz_tokenizer},
                 {"json", loam_fuzz::fuzz_json},
                 {"args", loam_fuzz::fuzz_args}};
  for (const auto& t : targets) {
    for (const Seed& s : files_in(kSource + "/tests/fuzz/regressions/" + t.target)) {
      const FuzzResult r = run(t.body, s.bytes);
      if (!r.broken.empty()) {
        loam_test::record_failure(__FILE__, __LINE__, std::string(t.target) + "/" + s.name +
                                                          ": " + r.broken);
      }
    }
  }
}
