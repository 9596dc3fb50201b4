#include "formats/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace loam {

namespace {

// Buffered little-endian output with sticky error state, from file position `pos` on.
class Out {
 public:
  Out(std::FILE* f, uint64_t pos) : f_(f), pos_(pos) {}
  bool ok() const { return ok_; }
  int error() const { return errno_; }  // errno of the first failed write
  uint64_t pos() const { return pos_; }

  void bytes(const void* p, size_t n) {
    if (!ok_ || n == 0) return;
    if (std::fwrite(p, 1, n, f_) != n) {
      ok_ = false;
      errno_ = errno;
    }
    pos_ += n;
  }
  template <class T>
  void put(T v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const uint8_t kZeros[256] = {};
    while (pos_ % alignment != 0) {
      const uint64_t n = std::min<uint64_t>(alignment - pos_ % alignment, sizeof kZeros);
      bytes(kZeros, static_cast<size_t>(n));
    }
  }

 private:
  std::FILE* f_;
  bool ok_ = true;
  int errno_ = 0;
  uint64_t pos_ = 0;
};

void write_array_body(Out& out, const GgufValue& v);

void write_value(Out& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::U8: out.put(static_cast<uint8_t>(v.u64)); break;
    case GgufType::I8: out.put(static_cast<int8_t>(v.i64)); break;
    case GgufType::U16: out.put(static_cast<uint16_t>(v.u64)); break;
    case GgufType::I16: out.put(static_cast<int16_t>(v.i64)); break;
    case GgufType::U32: out.put(static_cast<uint32_t>(v.u64)); break;
    case GgufType::I32: out.put(static_cast<int32_t>(v.i64)); break;
    case GgufType::U64: out.put(v.u64); break;
    case GgufType::I64: out.put(v.i64); break;
    case GgufType::F32: out.put(static_cast<float>(v.f64)); break;
    case GgufType::F64: out.put(v.f64); break;
    case GgufType::Bool: out.put(static_cast<uint8_t>(v.i64 != 0)); break;
    case GgufType::String: out.str(v.str); break;
    case GgufType::Array: write_array_body(out, v); break;
  }
}

void write_array_body(Out& out, const GgufValue& v) {
  out.put(static_cast<uint32_t>(v.elem_type));
  out.put<uint64_t>(v.count);
  if (v.elem_type == GgufType::String) {
    for (const std::string& s : v.strings) out.str(s);
  } else if (v.elem_type == GgufType::Array) {
    for (const GgufValue& item : v.items) write_array_body(out, item);
  } else {
    out.bytes(v.raw.data(), v.raw.size());
  }
}

// An array value is consistent when its count matches what it stores (else the file would be
// unreadable).
bool array_consistent(const GgufValue& v) {
  if (v.type != GgufType::Array) return true;
  if (v.elem_type == GgufType::String) return v.strings.size() == v.count;
  if (v.elem_type == GgufType::Array) {
    if (v.items.size() != v.count) return false;
    for (const GgufValue& item : v.items) {
      if (item.type != GgufType::Array || !array_consistent(item)) return false;
    }
    return true;
  }
  return v.raw.size() == v.count * gguf_type_size(v.elem_type);
}

}  // namespace

Status GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return Status::error("GGUF alignment " + std::to_string(alignment) +
                         " is not a power of two");
  }
  alignment_ = alignment;
  // Readers assume 32 when the key is absent; keep an existing key in step either way.
  bool present = false;
  for (const GgufKeyValue& kv : kv_) present = present || kv.key == "general.alignment";
  if (alignment != 32 || present) set("general.alignment", GgufValue::make_u32(alignment));
  return Status::ok();
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (GgufKeyValue& kv : kv_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kv_.push_back({key, std::move(value)});
}

Status GgufWriter::check_tensor(const std::string& name, DType type,
                                const std::vector<int64_t>& ne, size_t nbytes) const {
  const std::string tn = "tensor '" + name + "'";
  if (name.empty()) return Status::error("GGUF writer: empty tensor name");
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return Status::error("GGUF writer: duplicate " + tn);
  }
  if (ne.empty() || ne.size() > 4) {
    return Status::error("GGUF writer: " + tn + " must have 1 to 4 dimensions");
  }
  const DTypeInfo info = dtype_info(type);
  if (info.name == nullptr) return Status::error("GGUF writer: " + tn + " has an unknown type");
  int64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0) return Status::error("GGUF writer: " + tn + " has a dimension <= 0");
    if (d > 0) rows *= ne[d];
  }
  const size_t row_bytes = dtype_row_bytes(type, ne[0]);
  if (row_bytes == 0) {
    return Status::error("GGUF writer: " + tn + " row length " + std::to_string(ne[0]) +
                         " is not a multiple of the " + info.name + " block size");
  }
  if (row_bytes * static_cast<size_t>(rows) != nbytes) {
    return Status::error("GGUF writer: " + tn + " needs " +
                         std::to_string(row_bytes * static_cast<size_t>(rows)) +
                         " bytes, got " + std::to_string(nbytes));
  }
  return Status::ok();
}

Status GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                              const void* data, size_t nbytes) {
  LOAM_TRY(check_tensor(name, type, ne, nbytes));
  auto owned = std::make_shared<std::vector<uint8_t>>(nbytes);
  if (nbytes) std::memcpy(owned->data(), data, nbytes);
  tensors_.push_back({name, type, ne, owned->data(), nbytes, owned});
  return Status::ok();
}

Status GgufWriter::add_tensor_view(const std::string& name, DType type,
                                   const std::vector<int64_t>& ne, const void* data,
                                   size_t nbytes) {
  LOAM_TRY(check_tensor(name, type, ne, nbytes));
  tensors_.push_back({name, type, ne, static_cast<const uint8_t*>(data), nbytes, nullptr});
  return Status::ok();
}

Status GgufWriter::add_tensor_info(const std::string& name, DType type,
                                   const std::vector<int64_t>& ne) {
  // The size its type and shape give (check_tensor refuses a shape that has none).
  size_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= static_cast<size_t>(std::max<int64_t>(ne[d], 0));
  const size_t bytes = ne.empty() ? 0 : dtype_row_bytes(type, ne[0]) * rows;
  LOAM_TRY(check_tensor(name, type, ne, bytes));
  tensors_.push_back({name, type, ne, nullptr, bytes, nullptr});
  return Status::ok();
}

Status GgufWriter::write(const std::string& path) const {
  for (const PendingTensor& t : tensors_) {
    if (t.data == nullptr && t.nbytes != 0) {
      return Status::error("GGUF writer: tensor '" + t.name + "' was declared without its data");
    }
  }
  GgufStreamWriter stream;
  LOAM_TRY(stream.open(*this, path));
  for (const PendingTensor& t : tensors_) LOAM_TRY(stream.write_tensor(t.data, t.nbytes));
  return stream.finish();
}

Status GgufStreamWriter::fail(const std::string& what) {
  abandon();
  return Status::error(what);
}

Status GgufStreamWriter::open(const GgufWriter& layout, const std::string& path) {
  abandon();
  for (const GgufKeyValue& kv : layout.kv_) {
    if (!array_consistent(kv.value)) {
      return Status::error("GGUF writer: key '" + kv.key + "' has an inconsistent array");
    }
  }
  path_ = path;
  tmp_ = path + ".tmp";
  alignment_ = layout.alignment_;
  sizes_.clear();
  for (const GgufWriter::PendingTensor& t : layout.tensors_) sizes_.push_back(t.nbytes);
  next_ = 0;
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (file_ == nullptr) {
    const std::string message = "cannot create " + tmp_ + ": " + std::strerror(errno);
    tmp_.clear();  // not ours to remove
    return Status::error(message);
  }
  Out out(file_, 0);
  out.bytes("GGUF", 4);
  out.put<uint32_t>(3);
  out.put<uint64_t>(layout.tensors_.size());
  out.put<uint64_t>(layout.kv_.size());
  for (const GgufKeyValue& kv : layout.kv_) {
    out.str(kv.key);
    out.put(static_cast<uint32_t>(kv.value.type));
    write_value(out, kv.value);
  }
  // Offsets are relative to the data section; each tensor starts on an alignment boundary.
  uint64_t offset = 0;
  for (const GgufWriter::PendingTensor& t : layout.tensors_) {
    out.str(t.name);
    out.put(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) out.put(static_cast<uint64_t>(n));
    out.put(static_cast<uint32_t>(t.type));
    out.put(offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  if (!layout.tensors_.empty()) out.pad_to(alignment_);
  pos_ = out.pos();
  if (!out.ok()) return fail("cannot write " + tmp_ + ": " + std::strerror(out.error()));
  return Status::ok();
}

Status GgufStreamWriter::write_tensor(const void* data, size_t nbytes) {
  if (file_ == nullptr) return Status::error("GGUF writer: no file open");
  if (next_ >= sizes_.size()) return fail("GGUF writer: more tensors than declared in " + tmp_);
  if (nbytes != sizes_[next_]) {
    return fail("GGUF writer: tensor " + std::to_string(next_) + " of " + tmp_ + " has " +
                std::to_string(nbytes) + " bytes, declared " + std::to_string(sizes_[next_]));
  }
  Out out(file_, pos_);
  // Padding goes between tensors only: the file ends right after the last tensor's bytes.
  if (next_ > 0) out.pad_to(alignment_);
  out.bytes(data, nbytes);
  pos_ = out.pos();
  ++next_;
  if (!out.ok()) return fail("cannot write " + tmp_ + ": " + std::strerror(out.error()));
  return Status::ok();
}

Status GgufStreamWriter::finish() {
  if (file_ == nullptr) return Status::error("GGUF writer: no file open");
  if (next_ != sizes_.size()) {
    return fail("GGUF writer: " + std::to_string(next_) + " of " + std::to_string(sizes_.size()) +
                " tensors written to " + tmp_);
  }
  std::FILE* f = file_;
  file_ = nullptr;
  // fclose flushes the buffer: a full disk may only show here.
  if (std::fclose(f) != 0) return fail("cannot write " + tmp_ + ": " + std::strerror(errno));
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    return fail("cannot rename " + tmp_ + " to " + path_ + ": " + std::strerror(errno));
  }
  tmp_.clear();
  return Status::ok();
}

void GgufStreamWriter::abandon() {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!tmp_.empty()) {
    std::remove(tmp_.c_str());
    tmp_.clear();
  }
}

}  // namespace loam
