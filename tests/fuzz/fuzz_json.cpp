// libFuzzer target: the JSON reader and writer.
// The body is loam_fuzz::fuzz_json in fuzz_bodies.h.
#include "fuzz/fuzz_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return loam_fuzz::abort_if_broken(loam_fuzz::fuzz_json(data, size));
}
