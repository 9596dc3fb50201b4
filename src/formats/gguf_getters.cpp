// Typed metadata getters of GgufFile: each failure names the file, the key and the type found.
#include <limits>

#include "loam/gguf.h"

namespace loam {

namespace {

Status missing(const std::string& path, const std::string& key) {
  return Status::error(path + ": missing key '" + key + "'");
}

Status wrong_type(const std::string& path, const std::string& key, const GgufValue& v,
                  const char* expected) {
  std::string found = gguf_type_name(v.type);
  if (v.is_array()) found = std::string("array of ") + gguf_type_name(v.elem_type);
  return Status::error(path + ": key '" + key + "' has type " + found + ", expected " + expected);
}

}  // namespace

Status GgufFile::get_string(const std::string& key, std::string& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  if (v->type != GgufType::String) return wrong_type(path_, key, *v, "string");
  out = v->str;
  return Status::ok();
}

Status GgufFile::get_int(const std::string& key, int64_t& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  if (!v->is_integer()) return wrong_type(path_, key, *v, "an integer");
  if (!v->to_int(out)) {
    return Status::error(path_ + ": key '" + key + "' value " + std::to_string(v->u64) +
                         " is out of range");
  }
  return Status::ok();
}

Status GgufFile::get_uint32(const std::string& key, uint32_t& out) const {
  int64_t v = 0;
  LOAM_TRY(get_int(key, v));
  if (v < 0 || v > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
    return Status::error(path_ + ": key '" + key + "' value " + std::to_string(v) +
                         " is out of range for a 32-bit unsigned integer");
  }
  out = static_cast<uint32_t>(v);
  return Status::ok();
}

Status GgufFile::get_float(const std::string& key, double& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  if (!v->to_double(out)) return wrong_type(path_, key, *v, "a number");
  return Status::ok();
}

Status GgufFile::get_bool(const std::string& key, bool& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  if (v->type != GgufType::Bool) return wrong_type(path_, key, *v, "bool");
  out = v->i64 != 0;
  return Status::ok();
}

Status GgufFile::get_string_array(const std::string& key, std::vector<std::string>& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  if (!v->is_array() || v->elem_type != GgufType::String) {
    return wrong_type(path_, key, *v, "array of string");
  }
  out = v->strings;
  return Status::ok();
}

Status GgufFile::get_float_array(const std::string& key, std::vector<float>& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  if (!v->is_array() || !gguf_type_is_float(v->elem_type)) {
    return wrong_type(path_, key, *v, "array of f32");
  }
  out.resize(static_cast<size_t>(v->count));
  for (uint64_t i = 0; i < v->count; ++i) {
    double d = 0;
    v->double_at(i, d);
    out[static_cast<size_t>(i)] = static_cast<float>(d);
  }
  return Status::ok();
}

Status GgufFile::get_int_array(const std::string& key, std::vector<int64_t>& out) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return missing(path_, key);
  // Bool arrays are read as 0/1.
  if (!v->is_array() ||
      !(gguf_type_is_integer(v->elem_type) || v->elem_type == GgufType::Bool)) {
    return wrong_type(path_, key, *v, "array of integers");
  }
  out.resize(static_cast<size_t>(v->count));
  for (uint64_t i = 0; i < v->count; ++i) {
    if (!v->int_at(i, out[static_cast<size_t>(i)])) {
      return Status::error(path_ + ": key '" + key + "' element " + std::to_string(i) +
                           " is out of range");
    }
  }
  return Status::ok();
}

Status GgufFile::get_int_opt(const std::string& key, int64_t& out, bool* found) const {
  if (found) *found = has(key);
  return has(key) ? get_int(key, out) : Status::ok();
}

Status GgufFile::get_float_opt(const std::string& key, double& out, bool* found) const {
  if (found) *found = has(key);
  return has(key) ? get_float(key, out) : Status::ok();
}

Status GgufFile::get_bool_opt(const std::string& key, bool& out, bool* found) const {
  if (found) *found = has(key);
  return has(key) ? get_bool(key, out) : Status::ok();
}

Status GgufFile::get_string_opt(const std::string& key, std::string& out, bool* found) const {
  if (found) *found = has(key);
  return has(key) ? get_string(key, out) : Status::ok();
}

}  // namespace loam
