// The sampling flags of the generating commands (--temp, --top-k, --top-p, --min-p,
// --repeat-penalty, --repeat-last-n, -s), declared once with llama.cpp's names and defaults.
#pragma once

#include <cstdint>
#include <string>

#include "cli/args.h"
#include "loam/model.h"
#include "loam/sampler.h"
#include "loam/status.h"

namespace loam::cli {

struct SamplingOptions {
  SamplerParams params;
  int repeat_last_n = 64;   // -1: the whole context (resolved by resolve_sampling_options)
  bool seed_given = false;  // false: a seed is picked from the clock
};

void add_sampling_options(ArgParser& parser, SamplingOptions& options);

// Checks the ranges before a (possibly long) model load; the message is a usage error.
Status check_sampling_options(const SamplingOptions& options);

// A Hugging Face checkpoint's generation_config.json temperature and top-p stand in for --temp
// and --top-p when those were not given (as transformers' generate() uses them); logged.
void apply_model_sampling_defaults(const Model& model, const ArgParser& parser,
                                   SamplingOptions& options);

// The parameters for a context of n_ctx tokens: repeat_last_n -1 becomes n_ctx, and without -s a
// seed is taken from the clock and logged on stderr (so a run can be repeated).
SamplerParams resolve_sampling_options(const SamplingOptions& options, int n_ctx);

}  // namespace loam::cli
