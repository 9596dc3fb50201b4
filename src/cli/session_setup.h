// What the commands that run the model (run, logits) share between loading it and running it:
// the memory a Session and the repacked weight copies need is checked against what the machine
// (or --max-memory) allows BEFORE any of it is allocated, so a context too large for the machine
// is refused with the bytes needed and available instead of ending in the OOM killer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cli/args.h"
#include "loam/model.h"
#include "loam/session.h"
#include "loam/status.h"

namespace loam::cli {

// Declares --max-memory SIZE (the meaning `loam bench` gives it) writing the text to `out`.
void add_max_memory_option(ArgParser& parser, std::string* out);
// Declares -ctk/--cache-type-k and -ctv/--cache-type-v TYPE (llama.cpp's names; f32, f16,
// q8_0), writing the parsed types to *k and *v.
void add_cache_type_options(ArgParser& parser, DType* k, DType* v);
// "f32" / "f16" / "q8_0" (any case) to a cache type; false for anything else.
bool parse_cache_type(const std::string& text, DType& out);
// The name llama.cpp prints for a cache type: "f32", "f16", "q8_0".
std::string cache_type_label(DType type);

// Parses the --max-memory text ("" = no cap, 0); the message is the usage error to print.
Status parse_max_memory(const std::string& text, uint64_t& out);

// Loads the model with every weight left in the mapping (nothing large is allocated yet),
// timing it in milliseconds.
Status load_model_unpacked(const std::string& path, const std::string& tokenizer_path,
                           std::shared_ptr<Model>& out, double& ms);

struct SessionPlan {
  SessionOptions options;     // as given (0 = defaults)
  bool repack = true;         // make the interleaved weight copies (not --no-repack)
  uint64_t max_memory = 0;    // --max-memory; 0 = what the system has available
  uint64_t extra_bytes = 0;   // other buffers the command will hold (e.g. logits rows)
};

// Checks the session, the interleaved copies (when repack) and extra_bytes against the memory
// available, then repacks the weights and creates the session. `repack_ms` gets the time the
// copies took. The refusal names both byte counts and where the limit comes from.
Status create_session_checked(const std::shared_ptr<Model>& model, const SessionPlan& plan,
                              std::unique_ptr<Session>& out, double& repack_ms);

}  // namespace loam::cli
