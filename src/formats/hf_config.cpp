// config.json / generation_config.json readers.
#include "formats/hf_config.h"

#include <cmath>

#include "core/json.h"

namespace loam {

namespace {

// Beyond any real model; reject garbage before it sizes anything.
constexpr int64_t kMaxDim = int64_t{1} << 24;

Status parse_object(const std::string& text, const std::string& path, json::Value& doc) {
  if (Status st = json::parse(text, doc); !st) return Status::error(path + ": " + st.message());
  if (!doc.is_object()) return Status::error(path + ": not a JSON object");
  return Status::ok();
}

// An integer key in 1..kMaxDim; absent (or null) leaves `out` unchanged unless required.
Status get_dim(const json::Value& doc, const std::string& path, const char* key, bool required,
               int64_t& out) {
  const json::Value* v = doc.find(key);
  if (v == nullptr || v->is_null()) {
    if (required) return Status::error(path + ": missing \"" + key + "\"");
    return Status::ok();
  }
  if (!v->is_integer() || v->as_int64() <= 0 || v->as_int64() > kMaxDim) {
    return Status::error(path + ": \"" + key + "\" must be an integer in 1.." +
                         std::to_string(kMaxDim));
  }
  out = v->as_int64();
  return Status::ok();
}

Status get_number(const json::Value& doc, const std::string& path, const char* key,
                  double& out, bool* found = nullptr) {
  const json::Value* v = doc.find(key);
  if (found) *found = false;
  if (v == nullptr || v->is_null()) return Status::ok();
  if (!v->is_number()) return Status::error(path + ": \"" + key + "\" must be a number");
  out = v->as_number();
  if (found) *found = true;
  return Status::ok();
}

// A token id, or a list of them (eos_token_id of Llama 3.1 / 3.2).
Status get_ids(const json::Value& doc, const std::string& path, const char* key,
               std::vector<int64_t>& out, bool* found) {
  *found = false;
  const json::Value* v = doc.find(key);
  if (v == nullptr || v->is_null()) return Status::ok();
  std::vector<int64_t> ids;
  auto take = [&](const json::Value& item) {
    if (!item.is_integer() || item.as_int64() < 0 || item.as_int64() > kMaxDim) return false;
    ids.push_back(item.as_int64());
    return true;
  };
  bool ok = true;
  if (v->is_array()) {
    for (const json::Value& item : v->as_array()) ok = ok && take(item);
  } else {
    ok = take(*v);
  }
  if (!ok) return Status::error(path + ": \"" + key + "\" must be a token id or a list of them");
  out = std::move(ids);
  *found = !out.empty();
  return Status::ok();
}

Status read_rope_scaling(const json::Value& rs, const std::string& path, HfConfig& c) {
  if (rs.is_null()) return Status::ok();
  if (!rs.is_object()) return Status::error(path + ": \"rope_scaling\" is not an object");
  const json::Value* type = rs.find("rope_type");
  if (type == nullptr) type = rs.find("type");  // older configs
  if (type == nullptr || !type->is_string()) {
    return Status::error(path + ": rope_scaling has no \"rope_type\"");
  }
  const std::string& t = type->as_string();
  if (t == "default") return Status::ok();
  if (t != "llama3") {
    return Status::error(path + ": rope_scaling type '" + t +
                         "' is not supported (llama3, default)");
  }
  double factor = 8.0, low = 1.0, high = 4.0, original = 8192.0;
  LOAM_TRY(get_number(rs, path, "factor", factor));
  LOAM_TRY(get_number(rs, path, "low_freq_factor", low));
  LOAM_TRY(get_number(rs, path, "high_freq_factor", high));
  LOAM_TRY(get_number(rs, path, "original_max_position_embeddings", original));
  if (!(factor > 0 && low > 0 && high > low && original >= 1 && std::isfinite(factor) &&
        std::isfinite(high) && std::isfinite(original))) {
    return Status::error(path + ": rope_scaling llama3 needs factor > 0 and "
                         "0 < low_freq_factor < high_freq_factor, original_max_position_"
                         "embeddings >= 1");
  }
  c.rope_scaling_type = t;
  c.rope_factor = factor;
  c.rope_original_context = static_cast<int64_t>(original);
  c.rope_freq_factors = llama3_rope_factors(c.rope_theta, c.head_dim, factor, low, high, original);
  return Status::ok();
}

}  // namespace

std::vector<float> llama3_rope_factors(double theta, int64_t head_dim, double factor,
                                       double low_freq_factor, double high_freq_factor,
                                       double original_context) {
  const double pi = 3.14159265358979323846;
  const double low_wavelen = original_context / low_freq_factor;
  const double high_wavelen = original_context / high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < head_dim; i += 2) {
    // inv_freq is a float32 tensor in both transformers and the converter.
    const float freq = static_cast<float>(
        1.0 / std::pow(theta, static_cast<double>(i) / static_cast<double>(head_dim)));
    const double wavelen = 2.0 * pi / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1.0;
    } else if (wavelen > low_wavelen) {
      f = factor;
    } else {
      const double smooth =
          (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      f = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

Status parse_hf_config(const std::string& text, const std::string& path, HfConfig& out) {
  json::Value doc;
  LOAM_TRY(parse_object(text, path, doc));
  HfConfig c;
  const json::Value* archs = doc.find("architectures");
  if (archs == nullptr || !archs->is_array() || archs->as_array().empty() ||
      !archs->as_array()[0].is_string()) {
    return Status::error(path + ": no \"architectures\" list");
  }
  c.architecture = archs->as_array()[0].as_string();
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM") {
    return Status::error(path + ": architecture '" + c.architecture +
                         "' is not supported (LlamaForCausalLM, MistralForCausalLM)");
  }
  LOAM_TRY(get_dim(doc, path, "hidden_size", true, c.hidden_size));
  LOAM_TRY(get_dim(doc, path, "intermediate_size", true, c.intermediate_size));
  LOAM_TRY(get_dim(doc, path, "num_attention_heads", true, c.num_attention_heads));
  LOAM_TRY(get_dim(doc, path, "num_hidden_layers", true, c.num_hidden_layers));
  c.num_key_value_heads = c.num_attention_heads;
  LOAM_TRY(get_dim(doc, path, "num_key_value_heads", false, c.num_key_value_heads));
  c.head_dim = c.hidden_size / c.num_attention_heads;
  LOAM_TRY(get_dim(doc, path, "head_dim", false, c.head_dim));
  LOAM_TRY(get_dim(doc, path, "max_position_embeddings", false, c.max_position_embeddings));
  LOAM_TRY(get_dim(doc, path, "vocab_size", false, c.vocab_size));
  LOAM_TRY(get_number(doc, path, "rms_norm_eps", c.rms_norm_eps));
  // transformers >= 4.56 may move rope_theta and the scaling into "rope_parameters".
  const json::Value* rope_params = doc.find("rope_parameters");
  if (rope_params != nullptr && rope_params->is_object()) {
    LOAM_TRY(get_number(*rope_params, path, "rope_theta", c.rope_theta));
  }
  LOAM_TRY(get_number(doc, path, "rope_theta", c.rope_theta));
  if (!(c.rope_theta > 0 && std::isfinite(c.rope_theta))) {
    return Status::error(path + ": \"rope_theta\" must be positive");
  }
  if (!(c.rms_norm_eps > 0 && std::isfinite(c.rms_norm_eps))) {
    return Status::error(path + ": \"rms_norm_eps\" must be positive");
  }
  if (const json::Value* tie = doc.find("tie_word_embeddings"); tie != nullptr && !tie->is_null()) {
    if (!tie->is_bool()) return Status::error(path + ": \"tie_word_embeddings\" is not a bool");
    c.tie_word_embeddings = tie->as_bool();
  }
  if (c.head_dim % 2 != 0) {
    return Status::error(path + ": head_dim " + std::to_string(c.head_dim) + " is odd");
  }
  if (const json::Value* rs = doc.find("rope_scaling"); rs != nullptr) {
    LOAM_TRY(read_rope_scaling(*rs, path + " rope_scaling", c));
  } else if (rope_params != nullptr && rope_params->is_object() &&
             (rope_params->find("rope_type") || rope_params->find("type"))) {
    LOAM_TRY(read_rope_scaling(*rope_params, path + " rope_parameters", c));
  }
  std::vector<int64_t> bos;
  bool found = false;
  LOAM_TRY(get_ids(doc, path, "bos_token_id", bos, &found));
  if (found) c.bos_token_id = bos[0];
  LOAM_TRY(get_ids(doc, path, "eos_token_id", c.eos_token_ids, &found));
  out = std::move(c);
  return Status::ok();
}

Status parse_hf_generation_config(const std::string& text, const std::string& path,
                                  HfConfig& c) {
  json::Value doc;
  LOAM_TRY(parse_object(text, path, doc));
  double temperature = 0.0, top_p = 0.0;
  bool has_t = false, has_p = false;
  LOAM_TRY(get_number(doc, path, "temperature", temperature, &has_t));
  LOAM_TRY(get_number(doc, path, "top_p", top_p, &has_p));
  if (has_t && !(temperature >= 0 && std::isfinite(temperature))) {
    return Status::error(path + ": \"temperature\" must be >= 0");
  }
  if (has_p && !(top_p > 0 && top_p <= 1)) {
    return Status::error(path + ": \"top_p\" must be in (0, 1]");
  }
  // do_sample false means greedy in transformers, whatever the temperature says.
  if (const json::Value* s = doc.find("do_sample"); s != nullptr && s->is_bool() && !s->as_bool()) {
    has_t = true;
    temperature = 0.0;
  }
  std::vector<int64_t> bos, eos;
  bool found_bos = false, found_eos = false;
  LOAM_TRY(get_ids(doc, path, "bos_token_id", bos, &found_bos));
  LOAM_TRY(get_ids(doc, path, "eos_token_id", eos, &found_eos));
  c.has_temperature = has_t;
  c.temperature = temperature;
  c.has_top_p = has_p;
  c.top_p = top_p;
  if (found_bos && c.bos_token_id < 0) c.bos_token_id = bos[0];
  // generation_config's list is the fuller one (Llama 3 instruct: end_of_text and eot_id).
  if (found_eos) {
    for (int64_t id : eos) {
      bool have = false;
      for (int64_t e : c.eos_token_ids) have = have || e == id;
      if (!have) c.eos_token_ids.push_back(id);
    }
  }
  return Status::ok();
}

}  // namespace loam
