// GgufValue: type helpers, conversions, builders and display rendering.
#include <cstdio>
#include <cstring>
#include <limits>

#include "loam/gguf.h"

namespace loam {

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

size_t gguf_type_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: case GgufType::Array: return 0;
  }
  return 0;
}

bool gguf_type_is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}

bool gguf_type_is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

static bool is_unsigned(GgufType t) {
  return t == GgufType::U8 || t == GgufType::U16 || t == GgufType::U32 || t == GgufType::U64;
}

bool GgufValue::to_int(int64_t& out) const {
  if (!is_integer()) return false;
  if (is_unsigned(type)) {
    if (u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(u64);
  } else {
    out = i64;
  }
  return true;
}

bool GgufValue::to_double(double& out) const {
  if (gguf_type_is_float(type)) {
    out = f64;
    return true;
  }
  if (!is_integer()) return false;
  out = is_unsigned(type) ? static_cast<double>(u64) : static_cast<double>(i64);
  return true;
}

// Decodes one little-endian fixed-size element (memcpy: the bytes need not be aligned).
template <class T>
static T load_elem(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool GgufValue::int_at(uint64_t i, int64_t& out) const {
  if (type != GgufType::Array || i >= count) return false;
  const size_t sz = gguf_type_size(elem_type);
  if (sz == 0 || raw.size() < (i + 1) * sz) return false;
  const uint8_t* p = raw.data() + i * sz;
  switch (elem_type) {
    case GgufType::U8: out = load_elem<uint8_t>(p); return true;
    case GgufType::I8: out = load_elem<int8_t>(p); return true;
    case GgufType::U16: out = load_elem<uint16_t>(p); return true;
    case GgufType::I16: out = load_elem<int16_t>(p); return true;
    case GgufType::U32: out = load_elem<uint32_t>(p); return true;
    case GgufType::I32: out = load_elem<int32_t>(p); return true;
    case GgufType::I64: out = load_elem<int64_t>(p); return true;
    case GgufType::Bool: out = load_elem<uint8_t>(p) != 0; return true;
    case GgufType::U64: {
      const uint64_t v = load_elem<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      out = static_cast<int64_t>(v);
      return true;
    }
    default:
      return false;
  }
}

bool GgufValue::double_at(uint64_t i, double& out) const {
  if (type != GgufType::Array || i >= count) return false;
  if (elem_type == GgufType::F32 || elem_type == GgufType::F64) {
    const size_t sz = gguf_type_size(elem_type);
    if (raw.size() < (i + 1) * sz) return false;
    const uint8_t* p = raw.data() + i * sz;
    out = elem_type == GgufType::F32 ? load_elem<float>(p) : load_elem<double>(p);
    return true;
  }
  if (elem_type == GgufType::U64) {
    if (raw.size() < (i + 1) * 8) return false;
    out = static_cast<double>(load_elem<uint64_t>(raw.data() + i * 8));
    return true;
  }
  int64_t v = 0;
  if (!int_at(i, v)) return false;
  out = static_cast<double>(v);
  return true;
}

// Strings are shown on one line: control characters escaped, very long ones cut.
static std::string render_string(const std::string& s) {
  constexpr size_t kMaxShown = 256;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\"";
  if (s.size() > kMaxShown) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

static std::string render_double(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string GgufValue::render(size_t max_items) const {
  switch (type) {
    case GgufType::Bool: return i64 ? "true" : "false";
    case GgufType::String: return render_string(str);
    case GgufType::F32: case GgufType::F64: return render_double(f64);
    case GgufType::Array: break;
    default:
      return is_unsigned(type) ? std::to_string(u64) : std::to_string(i64);
  }
  if (count > max_items) {
    return std::string("[") + gguf_type_name(elem_type) + " x " + std::to_string(count) + "]";
  }
  std::string out = "[";
  for (uint64_t i = 0; i < count; ++i) {
    if (i) out += ", ";
    if (elem_type == GgufType::String) {
      out += render_string(strings[i]);
    } else if (elem_type == GgufType::Array) {
      out += items[i].render(max_items);
    } else if (gguf_type_is_float(elem_type)) {
      double v = 0;
      double_at(i, v);
      out += render_double(v);
    } else if (elem_type == GgufType::U64) {
      out += std::to_string(load_elem<uint64_t>(raw.data() + i * 8));
    } else if (elem_type == GgufType::Bool) {
      out += raw[i] ? "true" : "false";
    } else {
      int64_t v = 0;
      int_at(i, v);
      out += std::to_string(v);
    }
  }
  return out + "]";
}

static GgufValue make_signed(GgufType t, int64_t v) {
  GgufValue x;
  x.type = t;
  x.i64 = v;
  return x;
}

static GgufValue make_unsigned(GgufType t, uint64_t v) {
  GgufValue x;
  x.type = t;
  x.u64 = v;
  return x;
}

GgufValue GgufValue::make_u8(uint8_t v) { return make_unsigned(GgufType::U8, v); }
GgufValue GgufValue::make_i8(int8_t v) { return make_signed(GgufType::I8, v); }
GgufValue GgufValue::make_u16(uint16_t v) { return make_unsigned(GgufType::U16, v); }
GgufValue GgufValue::make_i16(int16_t v) { return make_signed(GgufType::I16, v); }
GgufValue GgufValue::make_u32(uint32_t v) { return make_unsigned(GgufType::U32, v); }
GgufValue GgufValue::make_i32(int32_t v) { return make_signed(GgufType::I32, v); }
GgufValue GgufValue::make_u64(uint64_t v) { return make_unsigned(GgufType::U64, v); }
GgufValue GgufValue::make_i64(int64_t v) { return make_signed(GgufType::I64, v); }
GgufValue GgufValue::make_bool(bool v) { return make_signed(GgufType::Bool, v ? 1 : 0); }

GgufValue GgufValue::make_f32(float v) {
  GgufValue x;
  x.type = GgufType::F32;
  x.f64 = v;
  return x;
}

GgufValue GgufValue::make_f64(double v) {
  GgufValue x;
  x.type = GgufType::F64;
  x.f64 = v;
  return x;
}

GgufValue GgufValue::make_string(std::string v) {
  GgufValue x;
  x.type = GgufType::String;
  x.str = std::move(v);
  return x;
}

GgufValue GgufValue::make_string_array(std::vector<std::string> v) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elem_type = GgufType::String;
  x.count = v.size();
  x.strings = std::move(v);
  return x;
}

GgufValue GgufValue::make_raw_array(GgufType elem_type, std::vector<uint8_t> raw) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elem_type = elem_type;
  const size_t sz = gguf_type_size(elem_type);
  x.count = sz ? raw.size() / sz : 0;
  x.raw = std::move(raw);
  return x;
}

GgufValue GgufValue::make_f32_array(const std::vector<float>& v) {
  std::vector<uint8_t> raw(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
  return make_raw_array(GgufType::F32, std::move(raw));
}

GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& v) {
  std::vector<uint8_t> raw(v.size() * sizeof(int32_t));
  if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
  return make_raw_array(GgufType::I32, std::move(raw));
}

GgufValue GgufValue::make_nested_array(std::vector<GgufValue> arrays) {
  GgufValue x;
  x.type = GgufType::Array;
  x.elem_type = GgufType::Array;
  x.count = arrays.size();
  x.items = std::move(arrays);
  return x;
}

}  // namespace loam
