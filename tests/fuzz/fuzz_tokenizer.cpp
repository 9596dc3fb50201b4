// libFuzzer target: the SentencePiece tokenizer and the stream decoder.
// The body is loam_fuzz::fuzz_tokenizer in fuzz_bodies.h.
#include "fuzz/fuzz_bodies.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const auto& set = loam_fuzz::TokenizerSet::get();
  std::fprintf(stderr, "fuzz_tokenizer: vocabularies: built-in (%d tokens), %s\n",
               set.own_vocab.size(),
               set.shared_source.empty() ? "no ../shared vocabulary" : set.shared_source.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return loam_fuzz::abort_if_broken(loam_fuzz::fuzz_tokenizer(data, size));
}
