// libFuzzer target: the GGUF reader, then the llama config and vocabulary readers.
// The body is loam_fuzz::fuzz_gguf in fuzz_bodies.h.
#include "fuzz/fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return loam_fuzz::abort_if_broken(loam_fuzz::fuzz_gguf(data, size));
}
