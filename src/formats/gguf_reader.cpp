// GGUF v2/v3 parser. The file is untrusted: every read goes through a bounds-checked cursor,
// every count is checked against the bytes left before anything is allocated for it, and
// every tensor's bytes must lie inside the file.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/mmap_file.h"
#include "loam/gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader assumes a little-endian host"
#endif

namespace loam {

namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;
// Smallest encodings, used to reject counts that cannot fit in the bytes left: a key/value is a
// key length (8) + a type (4) + at least 1 byte of value; a tensor info is a name length (8) +
// n_dims (4) + one dimension (8) + a type (4) + an offset (8).
constexpr uint64_t kMinKvBytes = 13;
constexpr uint64_t kMinTensorInfoBytes = 32;
// A count that fits in the file still says nothing about the memory its entries take here: a
// std::string is 32 bytes for 8 bytes of file, a GgufKeyValue ~180 for 13. So lists are reserved
// up to this many entries and otherwise grow as entries are actually read: memory stays in
// proportion to what was parsed, never to what a corrupt count claims.
constexpr uint64_t kMaxReserve = 1 << 16;
// Arrays of arrays take ~150 bytes per 12-byte element; no model file uses more than a few.
constexpr uint64_t kMaxNestedItems = 1 << 20;

// Bounds-checked little-endian reader over the mapping.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  bool read_bytes(void* dst, size_t n) {
    if (n > remaining()) return false;
    if (n) std::memcpy(dst, data_ + pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool read(T& v) {
    return read_bytes(&v, sizeof v);
  }
  // The caller has checked len <= remaining().
  void take_string(uint64_t len, std::string& out) {
    out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

// Fewest bytes one element of this type can take in the file.
uint64_t min_elem_bytes(GgufType t) {
  if (t == GgufType::String) return 8;
  if (t == GgufType::Array) return 12;
  return gguf_type_size(t);
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  out = a * b;
  return false;
}

}  // namespace

class GgufParser {
 public:
  GgufParser(const MappedFile& file, GgufFile& out)
      : path_(file.path()), cur_(file.data(), file.size()), size_(file.size()),
        base_(file.data()), out_(out) {}

  Status run() {
    LOAM_TRY(parse_header());
    LOAM_TRY(parse_metadata());
    LOAM_TRY(read_alignment());
    LOAM_TRY(parse_tensor_infos());
    return place_tensors();
  }

 private:
  Status fail(const std::string& what) const { return Status::error(path_ + ": " + what); }
  Status truncated(const std::string& where) const {
    return fail("truncated GGUF file (" + std::to_string(size_) + " bytes) while reading " +
                where);
  }

  // A GGUF string: u64 length + bytes. A length beyond the end of the file is reported as such
  // (not as plain truncation) so a corrupt length is easy to recognise.
  // `what` builds the description only on failure: vocabularies hold 10^5 strings.
  template <class Describe>
  Status read_string(std::string& out, Describe&& what) {
    uint64_t len = 0;
    if (!cur_.read(len)) return truncated(what());
    if (len > cur_.remaining()) {
      return fail(what() + ": string length " + std::to_string(len) + " exceeds the " +
                  std::to_string(cur_.remaining()) + " bytes left in the file");
    }
    cur_.take_string(len, out);
    return Status::ok();
  }

  Status parse_header() {
    char magic[4];
    if (!cur_.read(magic)) return truncated("the magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) return fail("not a GGUF file (bad magic)");
    uint32_t version = 0;
    if (!cur_.read(version)) return truncated("the version");
    if (version != 2 && version != 3) {
      const uint32_t swapped = __builtin_bswap32(version);
      if (swapped == 2 || swapped == 3) {
        return fail("big-endian GGUF files are not supported");
      }
      return fail("unsupported GGUF version " + std::to_string(version) +
                  " (only versions 2 and 3 are read)");
    }
    out_.version_ = version;
    if (!cur_.read(n_tensors_)) return truncated("the tensor count");
    if (!cur_.read(n_kv_)) return truncated("the metadata count");
    // Both counts bound how much we reserve below; a few corrupt bytes must not make us try to
    // allocate terabytes.
    const uint64_t left = cur_.remaining();
    if (n_kv_ > left / kMinKvBytes) {
      return fail("implausible metadata count " + std::to_string(n_kv_) + " for a file of " +
                  std::to_string(size_) + " bytes");
    }
    if (n_tensors_ > left / kMinTensorInfoBytes ||
        n_tensors_ * kMinTensorInfoBytes + n_kv_ * kMinKvBytes > left) {
      return fail("implausible tensor count " + std::to_string(n_tensors_) + " for a file of " +
                  std::to_string(size_) + " bytes");
    }
    return Status::ok();
  }

  Status parse_metadata() {
    out_.kv_.reserve(static_cast<size_t>(std::min(n_kv_, kMaxReserve)));
    for (uint64_t i = 0; i < n_kv_; ++i) {
      GgufKeyValue kv;
      const std::string where = "metadata entry " + std::to_string(i);
      LOAM_TRY(read_string(kv.key, [&] { return "the key of " + where; }));
      if (kv.key.empty()) return fail(where + " has an empty key");
      uint32_t type = 0;
      if (!cur_.read(type)) return truncated("the type of key '" + kv.key + "'");
      LOAM_TRY(read_value(kv.key, type, 0, kv.value));
      if (!out_.kv_index_.emplace(kv.key, out_.kv_.size()).second) {
        return fail("duplicate key '" + kv.key + "'");
      }
      out_.kv_.push_back(std::move(kv));
    }
    return Status::ok();
  }

  Status read_value(const std::string& key, uint32_t raw_type, int depth, GgufValue& v) {
    if (!valid_value_type(raw_type)) {
      return fail("key '" + key + "' has unknown value type " + std::to_string(raw_type));
    }
    v.type = static_cast<GgufType>(raw_type);
    const std::string where = "the value of key '" + key + "'";
    switch (v.type) {
      case GgufType::U8: { uint8_t x; if (!cur_.read(x)) return truncated(where); v.u64 = x; break; }
      case GgufType::I8: { int8_t x; if (!cur_.read(x)) return truncated(where); v.i64 = x; break; }
      case GgufType::U16: { uint16_t x; if (!cur_.read(x)) return truncated(where); v.u64 = x; break; }
      case GgufType::I16: { int16_t x; if (!cur_.read(x)) return truncated(where); v.i64 = x; break; }
      case GgufType::U32: { uint32_t x; if (!cur_.read(x)) return truncated(where); v.u64 = x; break; }
      case GgufType::I32: { int32_t x; if (!cur_.read(x)) return truncated(where); v.i64 = x; break; }
      case GgufType::U64: { uint64_t x; if (!cur_.read(x)) return truncated(where); v.u64 = x; break; }
      case GgufType::I64: { int64_t x; if (!cur_.read(x)) return truncated(where); v.i64 = x; break; }
      case GgufType::F32: { float x; if (!cur_.read(x)) return truncated(where); v.f64 = x; break; }
      case GgufType::F64: { double x; if (!cur_.read(x)) return truncated(where); v.f64 = x; break; }
      case GgufType::Bool: { uint8_t x; if (!cur_.read(x)) return truncated(where); v.i64 = x != 0; break; }
      case GgufType::String:
        LOAM_TRY(read_string(v.str, [&] { return where; }));
        break;
      case GgufType::Array:
        return read_array(key, depth, v);
    }
    return Status::ok();
  }

  Status read_array(const std::string& key, int depth, GgufValue& v) {
    if (depth >= kMaxArrayDepth) return fail("key '" + key + "': arrays nested too deeply");
    uint32_t elem = 0;
    if (!cur_.read(elem)) return truncated("the array type of key '" + key + "'");
    if (!valid_value_type(elem)) {
      return fail("key '" + key + "' has an array of unknown type " + std::to_string(elem));
    }
    v.elem_type = static_cast<GgufType>(elem);
    if (!cur_.read(v.count)) return truncated("the array length of key '" + key + "'");
    if (v.count > cur_.remaining() / min_elem_bytes(v.elem_type)) {
      return fail("key '" + key + "': implausible array length " + std::to_string(v.count) +
                  " (" + std::to_string(cur_.remaining()) + " bytes left in the file)");
    }
    const size_t n = static_cast<size_t>(v.count);
    if (v.elem_type == GgufType::String) {
      v.strings.reserve(static_cast<size_t>(std::min<uint64_t>(n, kMaxReserve)));
      for (size_t i = 0; i < n; ++i) {
        v.strings.emplace_back();
        LOAM_TRY(read_string(v.strings.back(), [&] {
          return "element " + std::to_string(i) + " of key '" + key + "'";
        }));
      }
    } else if (v.elem_type == GgufType::Array) {
      nested_items_ += v.count;  // no overflow: each count is below the file size
      if (nested_items_ > kMaxNestedItems) {
        return fail("key '" + key + "': more than " + std::to_string(kMaxNestedItems) +
                    " elements in nested arrays");
      }
      v.items.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        v.items.emplace_back();
        LOAM_TRY(read_array(key + "[" + std::to_string(i) + "]", depth + 1, v.items.back()));
        v.items.back().type = GgufType::Array;
      }
    } else {
      v.raw.resize(n * gguf_type_size(v.elem_type));
      if (!cur_.read_bytes(v.raw.data(), v.raw.size())) return truncated("array '" + key + "'");
    }
    return Status::ok();
  }

  Status read_alignment() {
    const GgufValue* a = out_.find("general.alignment");
    if (a == nullptr) {
      out_.alignment_ = kDefaultAlignment;
      return Status::ok();
    }
    int64_t v = 0;
    if (!a->to_int(v)) {
      return fail("key 'general.alignment' has type " + std::string(gguf_type_name(a->type)) +
                  ", expected an integer");
    }
    if (v <= 0 || v > (int64_t{1} << 30) || (v & (v - 1)) != 0) {
      return fail("key 'general.alignment' is " + std::to_string(v) +
                  ", not a power of two");
    }
    out_.alignment_ = static_cast<uint32_t>(v);
    return Status::ok();
  }

  Status parse_tensor_infos() {
    out_.tensors_.reserve(static_cast<size_t>(std::min(n_tensors_, kMaxReserve)));
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      GgufTensorInfo t;
      const std::string where = "tensor info " + std::to_string(i);
      LOAM_TRY(read_string(t.name, [&] { return "the name of " + where; }));
      if (t.name.empty()) return fail(where + " has an empty name");
      const std::string tn = "tensor '" + t.name + "'";
      uint32_t n_dims = 0;
      if (!cur_.read(n_dims)) return truncated("the dimension count of " + tn);
      if (n_dims < 1 || n_dims > kMaxDims) {
        return fail(tn + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
      }
      t.n_dims = static_cast<int>(n_dims);
      uint64_t elements = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t ne = 0;
        if (!cur_.read(ne)) return truncated("the shape of " + tn);
        if (ne == 0) return fail(tn + " has a zero-length dimension " + std::to_string(d));
        if (mul_overflows(elements, ne, elements) ||
            elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return fail(tn + ": element count overflows");
        }
        t.ne[d] = static_cast<int64_t>(ne);
      }
      uint32_t type = 0;
      if (!cur_.read(type)) return truncated("the type of " + tn);
      if (dtype_info(type).name == nullptr) {
        return fail(tn + " has unknown type number " + std::to_string(type));
      }
      t.type = static_cast<DType>(type);
      if (!cur_.read(t.offset)) return truncated("the offset of " + tn);
      if (!out_.tensor_index_.emplace(t.name, out_.tensors_.size()).second) {
        return fail("duplicate tensor name '" + t.name + "'");
      }
      out_.tensors_.push_back(std::move(t));
    }
    return Status::ok();
  }

  Status place_tensors() {
    const uint64_t align = out_.alignment_;
    const uint64_t end_of_infos = cur_.pos();
    // The data section starts at the next multiple of the alignment. A file with no tensors (a
    // vocab-only file) need not contain that padding.
    out_.data_offset_ = (end_of_infos + align - 1) / align * align;
    for (GgufTensorInfo& t : out_.tensors_) {
      const std::string tn = "tensor '" + t.name + "'";
      const DTypeInfo info = dtype_info(t.type);
      if (t.ne[0] % info.block_size != 0) {
        return fail(tn + ": row length " + std::to_string(t.ne[0]) +
                    " is not a multiple of the " + info.name + " block size " +
                    std::to_string(info.block_size));
      }
      const uint64_t row_bytes = dtype_row_bytes(t.type, t.ne[0]);
      const uint64_t rows = static_cast<uint64_t>(t.ne[1] * t.ne[2] * t.ne[3]);  // no overflow:
      // the element count (a larger product) was checked above.
      uint64_t nbytes = 0;
      if (mul_overflows(row_bytes, rows, nbytes)) {
        return fail(tn + ": byte size overflows");
      }
      if (t.offset % align != 0) {
        return fail(tn + ": offset " + std::to_string(t.offset) +
                    " is not a multiple of the alignment " + std::to_string(align));
      }
      const uint64_t start = out_.data_offset_ + t.offset;  // no overflow: see the check below
      if (t.offset > size_ || out_.data_offset_ > size_ || start > size_ ||
          nbytes > size_ - start) {
        return fail(tn + ": data (offset " + std::to_string(t.offset) + ", " +
                    std::to_string(nbytes) + " bytes from data start " +
                    std::to_string(out_.data_offset_) + ") lies beyond the end of the file (" +
                    std::to_string(size_) + " bytes)");
      }
      t.data = base_ + start;
      t.nbytes = static_cast<size_t>(nbytes);
    }
    return Status::ok();
  }

  const std::string& path_;
  Cursor cur_;
  uint64_t size_;
  const uint8_t* base_;
  GgufFile& out_;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  uint64_t nested_items_ = 0;  // elements of all arrays of arrays so far
};

Status GgufFile::open(const std::string& path, GgufFile& out) {
  std::shared_ptr<const MappedFile> file;
  LOAM_TRY(MappedFile::open(path, file));
  return parse(std::move(file), out);
}

Status GgufFile::parse(std::shared_ptr<const MappedFile> file, GgufFile& out) {
  GgufFile parsed;
  parsed.path_ = file->path();
  parsed.mapping_ = file;
  GgufParser parser(*file, parsed);
  LOAM_TRY(parser.run());
  out = std::move(parsed);
  return Status::ok();
}

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace loam
