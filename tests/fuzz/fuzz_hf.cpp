// libFuzzer target: the Hugging Face checkpoint readers (safetensors header and index,
// config.json, generation_config.json, tokenizer.json, tokenizer_config.json).
// The body is loam_fuzz::fuzz_hf in fuzz_hf_bodies.h.
#include "fuzz/fuzz_hf_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return loam_fuzz::abort_if_broken(loam_fuzz::fuzz_hf(data, size));
}
