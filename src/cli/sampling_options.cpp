#include "cli/sampling_options.h"

#include <chrono>
#include <limits>

#include "cli/cli.h"

namespace loam::cli {

namespace {

constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr float kFloatMax = std::numeric_limits<float>::max();

uint64_t seed_from_clock() {
  // Mixed so that runs started in the same second still differ; 32 bits keep the printed seed
  // short enough to retype.
  const uint64_t t = static_cast<uint64_t>(
      std::chrono::high_resolution_clock::now().time_since_epoch().count());
  Rng mix(t);
  return mix.next_u64() & 0xffffffffull;
}

}  // namespace

void add_sampling_options(ArgParser& p, SamplingOptions& o) {
  p.custom("-s", "--seed", "SEED", "random seed; -1 = pick one and print it (default -1)",
           [&o](const std::string& v) {
             uint64_t seed = 0;
             if (v == "-1") {
               o.seed_given = false;
               return Status::ok();
             }
             if (!parse_uint64(v, seed)) {
               return Status::error("-s expects an integer in [0, 2^64) or -1, got '" + v + "'");
             }
             o.params.seed = seed;
             o.seed_given = true;
             return Status::ok();
           });
  p.number("", "--temp", "T", "temperature; <= 0 = greedy (default 0.8)", &o.params.temp,
           -kFloatMax, kFloatMax);
  p.integer("", "--top-k", "K", "keep the K most likely tokens; 0 = off (default 40)",
            &o.params.top_k, 0, kIntMax);
  p.number("", "--top-p", "P", "keep the smallest set with probability >= P; 1 = off "
           "(default 0.95)", &o.params.top_p, 0.0f, 1.0f);
  p.number("", "--min-p", "P", "drop tokens less likely than P x the top one; 0 = off "
           "(default 0.05)", &o.params.min_p, 0.0f, 1.0f);
  p.number("", "--repeat-penalty", "R", "penalize tokens seen in the last N; 1 = off "
           "(default 1.0)", &o.params.repeat_penalty, 0.0f, kFloatMax);
  p.integer("", "--repeat-last-n", "N", "tokens the penalty looks back; 0 = off, -1 = context "
            "(default 64)", &o.repeat_last_n, -1, kIntMax);
}

Status check_sampling_options(const SamplingOptions& o) {
  SamplerParams check = o.params;
  check.repeat_last_n = o.repeat_last_n < 0 ? 0 : o.repeat_last_n;
  if (Status st = validate_sampler_params(check); !st) {
    return Status::error("invalid sampling option: " + st.message());
  }
  return Status::ok();
}

void apply_model_sampling_defaults(const Model& model, const ArgParser& parser,
                                   SamplingOptions& o) {
  const Model::SamplingDefaults& defaults = model.sampling_defaults;
  const bool temp = defaults.has_temp && !parser.given("--temp");
  const bool top_p = defaults.has_top_p && !parser.given("--top-p");
  if (temp) o.params.temp = defaults.temp;
  if (top_p) o.params.top_p = defaults.top_p;
  if (temp || top_p) {
    log_line("sampling: temp %g, top-p %g (generation_config.json, where no flag was given)",
             static_cast<double>(o.params.temp), static_cast<double>(o.params.top_p));
  }
}

SamplerParams resolve_sampling_options(const SamplingOptions& o, int n_ctx) {
  SamplerParams p = o.params;
  p.repeat_last_n = o.repeat_last_n < 0 ? n_ctx : o.repeat_last_n;
  if (!o.seed_given) {
    p.seed = seed_from_clock();
    log_line("seed: %llu", static_cast<unsigned long long>(p.seed));
  }
  return p;
}

}  // namespace loam::cli
