// Writes the seed corpora of the fuzz targets: make_seeds OUT_DIR [SHARED_DIR] creates
// OUT_DIR/<target>/ for gguf, llama2c, tokenizer, json and args with the seeds of fuzz_seeds.h,
// plus copies of the small ../shared fixtures (real files from other writers) when SHARED_DIR
// is given and holds them. Used by .ci/fuzz.sh.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_seeds.h"

namespace {

// mkdir -p
bool make_dirs(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return false;
    if (slash == std::string::npos) return true;
  }
}

bool write_seeds(const std::string& dir, const std::vector<loam_fuzz::Seed>& seeds) {
  if (!make_dirs(dir)) {
    std::fprintf(stderr, "make_seeds: cannot create %s\n", dir.c_str());
    return false;
  }
  for (const loam_fuzz::Seed& s : seeds) {
    std::ofstream f(dir + "/" + s.name, std::ios::binary | std::ios::trunc);
    f.write(s.bytes.data(), static_cast<std::streamsize>(s.bytes.size()));
    if (!f) {
      std::fprintf(stderr, "make_seeds: cannot write %s/%s\n", dir.c_str(), s.name.c_str());
      return false;
    }
  }
  std::printf("make_seeds: %zu seeds in %s\n", seeds.size(), dir.c_str());
  return true;
}

// Copies of the fixtures under `shared` that exist. Only files up to ~1 MB: each input is
// copied and parsed whole on every run, and larger ones add no code path.
void add_fixtures(const std::string& shared, const std::vector<std::string>& names,
                  std::vector<loam_fuzz::Seed>& seeds) {
  for (const std::string& name : names) {
    std::string bytes = loam_fuzz::read_file(shared + "/" + name);
    if (bytes.empty()) continue;
    seeds.push_back({"shared-" + name.substr(name.rfind('/') + 1), std::move(bytes)});
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR [SHARED_DIR]\n");
    return 2;
  }
  const std::string out = argv[1];
  const std::string shared = argc > 2 ? argv[2] : "";

  loam::Status st;
  std::vector<loam_fuzz::Seed> gguf = loam_fuzz::gguf_seeds(st);
  if (!st) {
    std::fprintf(stderr, "make_seeds: %s\n", st.message().c_str());
    return 1;
  }
  std::vector<loam_fuzz::Seed> llama2c = loam_fuzz::llama2c_seeds();
  std::vector<loam_fuzz::Seed> tokenizer = loam_fuzz::text_seeds(LOAM_SOURCE_DIR, "tokenizer");
  if (!shared.empty()) {
    add_fixtures(shared, {"models/aidreams260K.gguf", "vectors/ggml-vocab-llama-spm.gguf"}, gguf);
    add_fixtures(shared, {"models/tok512.bin", "models/aidreams260K.bin"}, llama2c);
    // The tokenizer test strings: split on "\n__ggml_vocab_test__\n" (see ../shared/README.md).
    const std::string inp = loam_fuzz::read_file(shared + "/vectors/ggml-vocab-llama-spm.gguf.inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t begin = 0;
    for (int n = 0; begin < inp.size(); ++n) {
      size_t end = inp.find(sep, begin);
      if (end == std::string::npos) end = inp.size();
      const std::string text = inp.substr(begin, end - begin);
      tokenizer.push_back({"vector-" + std::to_string(n), "A" + text});
      tokenizer.push_back({"vector-own-" + std::to_string(n), "C" + text});
      begin = end + sep.size();
    }
    // The llama-bpe strings with the Llama 3 byte-level vocabulary ('E': BOS, byte-level).
    const std::string bpe_inp =
        loam_fuzz::read_file(shared + "/vectors/ggml-vocab-llama-bpe.gguf.inp");
    begin = 0;
    for (int n = 0; begin < bpe_inp.size(); ++n) {
      size_t end = bpe_inp.find(sep, begin);
      if (end == std::string::npos) end = bpe_inp.size();
      tokenizer.push_back(
          {"vector-bpe-" + std::to_string(n), "E" + bpe_inp.substr(begin, end - begin)});
      begin = end + sep.size();
    }
  }

  const bool ok = write_seeds(out + "/gguf", gguf) && write_seeds(out + "/llama2c", llama2c) &&
                  write_seeds(out + "/tokenizer", tokenizer) &&
                  write_seeds(out + "/json", loam_fuzz::text_seeds(LOAM_SOURCE_DIR, "json")) &&
                  write_seeds(out + "/args", loam_fuzz::text_seeds(LOAM_SOURCE_DIR, "args"));
  return ok ? 0 : 1;
}
