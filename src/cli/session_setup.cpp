#include "cli/session_setup.h"

#include <limits>

#include "cli/cli.h"
#include "core/memory_budget.h"
#include "model/interleave_weights.h"

namespace loam::cli {

void add_max_memory_option(ArgParser& parser, std::string* out) {
  parser.text("", "--max-memory", "SIZE", "refuse what needs more memory than SIZE (e.g. 8G); "
              "default: what the system has available", out);
}

bool parse_cache_type(const std::string& text, DType& out) {
  std::string t = text;
  for (char& ch : t) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  if (t == "f32") out = DType::F32;
  else if (t == "f16") out = DType::F16;
  else if (t == "q8_0") out = DType::Q8_0;
  else return false;
  return true;
}

std::string cache_type_label(DType type) {
  std::string t = dtype_name(type);
  for (char& ch : t) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  return t;
}

void add_cache_type_options(ArgParser& parser, DType* k, DType* v) {
  const std::string def = cache_type_label(kDefaultCacheType);
  for (int which = 0; which < 2; ++which) {
    DType* out = which == 0 ? k : v;
    const std::string flag = which == 0 ? "--cache-type-k" : "--cache-type-v";
    parser.custom(which == 0 ? "-ctk" : "-ctv", flag, "TYPE",
                  std::string("KV cache type of ") + (which == 0 ? "keys" : "values") +
                      ": f32, f16 or q8_0 (default " + def + ")",
                  [out, flag](const std::string& value) {
                    if (!parse_cache_type(value, *out))
                      return Status::error(flag + " expects f32, f16 or q8_0, got '" + value + "'");
                    return Status::ok();
                  });
  }
}

Status parse_max_memory(const std::string& text, uint64_t& out) {
  out = 0;
  if (text.empty()) return Status::ok();
  if (!parse_byte_size(text, out))
    return Status::error("--max-memory expects a size such as 8G or 512M, got '" + text + "'");
  return Status::ok();
}

Status load_model_unpacked(const std::string& path, const std::string& tokenizer_path,
                           std::shared_ptr<Model>& out, double& ms) {
  return load_model_timed(path, tokenizer_path, false, out, ms);
}

Status create_session_checked(const std::shared_ptr<Model>& model, const SessionPlan& plan,
                              std::unique_ptr<Session>& out, double& repack_ms) {
  repack_ms = 0.0;
  const SessionOptions resolved = Session::resolve(model->config, plan.options);
  // Session::memory_bytes saturates, so the sum only needs the same care.
  auto add = [](uint64_t a, uint64_t b) {
    return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max()
                                                        : a + b;
  };
  uint64_t need = Session::memory_bytes(model->config, resolved.n_ctx, resolved.n_threads,
                                        resolved.cache_type_k, resolved.cache_type_v);
  const uint64_t repack_bytes = plan.repack ? interleaved_weight_bytes(*model) : 0;
  need = add(add(need, repack_bytes), plan.extra_bytes);
  std::string what = "a context of " + std::to_string(resolved.n_ctx) + " tokens (-c)";
  if (repack_bytes > 0) what += " with the repacked weights (" + describe_bytes(repack_bytes) + ")";
  const Status fits = check_memory(what, need, available_memory(plan.max_memory));
  if (!fits) {
    return Status::error(fits.message() + "; a smaller -c needs less" +
                         (repack_bytes > 0 ? ", as does --no-repack" : ""));
  }
  if (plan.repack) {
    Stopwatch clock;
    LOAM_TRY(interleave_weights(*model));
    repack_ms = clock.ms();
  }
  return Session::create(model, resolved, out);
}

}  // namespace loam::cli
