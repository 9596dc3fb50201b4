// GGUF (v2/v3) files: metadata key/values and tensor infos, read from a read-only mapping.
// Every count, length, offset and size is checked against the file before it is used; errors name
// the file and the key or tensor at fault. Tensor data pointers point into the mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "loam/dtype.h"
#include "loam/status.h"
#include "loam/tokenizer.h"

namespace loam {

class MappedFile;

// Metadata value types, numbered as in the GGUF specification.
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

const char* gguf_type_name(GgufType t);  // "u32", "string", ...; "?" for unknown numbers
// Bytes of one element of a fixed-size type; 0 for String and Array.
size_t gguf_type_size(GgufType t);
bool gguf_type_is_integer(GgufType t);
bool gguf_type_is_float(GgufType t);

// One metadata value. Scalars use one of i64 (signed ints, bool as 0/1), u64 (unsigned ints),
// f64 (f32/f64) or str. Arrays record their element type and count, and keep their elements as
// raw little-endian bytes (fixed-size types), as strings, or as nested values (arrays of arrays).
struct GgufValue {
  GgufType type = GgufType::U8;
  int64_t i64 = 0;
  uint64_t u64 = 0;
  double f64 = 0.0;
  std::string str;

  GgufType elem_type = GgufType::U8;     // arrays only
  uint64_t count = 0;                    // arrays only: number of elements
  std::vector<uint8_t> raw;              // [count * gguf_type_size(elem_type)] fixed-size elements
  std::vector<std::string> strings;      // [count] when elem_type == String
  std::vector<GgufValue> items;          // [count] when elem_type == Array

  bool is_integer() const { return gguf_type_is_integer(type); }
  bool is_array() const { return type == GgufType::Array; }

  // Scalar integer as int64; false when not an integer or a u64 above INT64_MAX.
  bool to_int(int64_t& out) const;
  // Scalar number (integer or float) as double; false otherwise.
  bool to_double(double& out) const;
  // Element i of a fixed-size numeric array (i < count); false when elements are not numbers.
  bool int_at(uint64_t i, int64_t& out) const;
  bool double_at(uint64_t i, double& out) const;

  // Human-readable rendering for `loam info`: arrays longer than max_items are summarized as
  // "[string x 32000]".
  std::string render(size_t max_items = 8) const;

  // Builders (used by the writer and tests).
  static GgufValue make_u8(uint8_t v);
  static GgufValue make_i8(int8_t v);
  static GgufValue make_u16(uint16_t v);
  static GgufValue make_i16(int16_t v);
  static GgufValue make_u32(uint32_t v);
  static GgufValue make_i32(int32_t v);
  static GgufValue make_u64(uint64_t v);
  static GgufValue make_i64(int64_t v);
  static GgufValue make_f32(float v);
  static GgufValue make_f64(double v);
  static GgufValue make_bool(bool v);
  static GgufValue make_string(std::string v);
  static GgufValue make_string_array(std::vector<std::string> v);
  static GgufValue make_f32_array(const std::vector<float>& v);
  static GgufValue make_i32_array(const std::vector<int32_t>& v);
  // Any fixed-size element type from raw little-endian bytes (count = raw.size() / elem size).
  static GgufValue make_raw_array(GgufType elem_type, std::vector<uint8_t> raw);
  static GgufValue make_nested_array(std::vector<GgufValue> arrays);  // every item an Array
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};      // ne[0] = row length
  DType type = DType::F32;
  uint64_t offset = 0;               // from the start of the data section
  const uint8_t* data = nullptr;     // into the mapping
  size_t nbytes = 0;

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Maps and parses `path`.
  static Status open(const std::string& path, GgufFile& out);
  // Parses an existing mapping (which the GgufFile keeps alive).
  static Status parse(std::shared_ptr<const MappedFile> file, GgufFile& out);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }

  const std::vector<GgufKeyValue>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: fail when the key is missing or holds another type (message names file and
  // key). get_int accepts any integer type; get_uint32 also checks the range; get_float accepts
  // f32, f64 and integers.
  Status get_string(const std::string& key, std::string& out) const;
  Status get_int(const std::string& key, int64_t& out) const;
  Status get_uint32(const std::string& key, uint32_t& out) const;
  Status get_float(const std::string& key, double& out) const;
  Status get_bool(const std::string& key, bool& out) const;
  Status get_string_array(const std::string& key, std::vector<std::string>& out) const;
  Status get_float_array(const std::string& key, std::vector<float>& out) const;
  Status get_int_array(const std::string& key, std::vector<int64_t>& out) const;

  // Same, but a missing key leaves `out` unchanged and succeeds (present with a wrong type still
  // fails). `found`, when given, tells whether the key was present.
  Status get_int_opt(const std::string& key, int64_t& out, bool* found = nullptr) const;
  Status get_float_opt(const std::string& key, double& out, bool* found = nullptr) const;
  Status get_bool_opt(const std::string& key, bool& out, bool* found = nullptr) const;
  Status get_string_opt(const std::string& key, std::string& out, bool* found = nullptr) const;

 private:
  friend class GgufParser;

  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::shared_ptr<const MappedFile> mapping_;
  std::vector<GgufKeyValue> kv_;                       // file order
  std::unordered_map<std::string, size_t> kv_index_;   // key -> index in kv_
  std::vector<GgufTensorInfo> tensors_;                // file order
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Fills `out` from the tokenizer.ggml.* keys: model, tokens (required), scores (optional, 0),
// token_type (optional, Normal), bos/eos/unknown_token_id, add_bos_token, add_space_prefix
// (absent keys keep Vocab's defaults). Fails when tokens are missing or lengths disagree.
Status load_vocab_from_gguf(const GgufFile& file, Vocab& out);
// Opens a GGUF (a vocab-only file is fine) and reads its vocabulary.
Status load_gguf_vocab(const std::string& path, Vocab& out);

}  // namespace loam
