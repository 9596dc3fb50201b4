// Writes GGUF v3 files: metadata of every value type and tensors with alignment padding. Used by
// test fixtures, the model generator in tools/, and `loam quantize` (which streams the tensors
// through GgufStreamWriter so that a converted model never has to be in memory whole).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "loam/dtype.h"
#include "loam/gguf.h"
#include "loam/status.h"

namespace loam {

class GgufWriter {
 public:
  // Sets the data alignment (a power of two). A value other than 32 is also written as the
  // general.alignment key, as readers expect.
  Status set_alignment(uint32_t alignment);

  // Adds a key (file order = call order); setting an existing key replaces its value in place.
  // Values are written as given: use set_alignment(), not set(), for general.alignment.
  void set(const std::string& key, GgufValue value);

  // Adds a tensor; ne[0] is the row length (1 to 4 dims). `data` must hold exactly the tensor's
  // bytes. add_tensor copies them; add_tensor_view only keeps the pointer, which must stay valid
  // until write() returns.
  Status add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                    const void* data, size_t nbytes);
  Status add_tensor_view(const std::string& name, DType type, const std::vector<int64_t>& ne,
                         const void* data, size_t nbytes);
  // Declares a tensor whose bytes come later, through a GgufStreamWriter: its size (and so every
  // offset) follows from the type and shape.
  Status add_tensor_info(const std::string& name, DType type, const std::vector<int64_t>& ne);

  // Writes the file to path + ".tmp" and renames it over `path`, so a failed write never leaves
  // a half-written model under the final name. Every tensor needs its data (add_tensor or
  // add_tensor_view).
  Status write(const std::string& path) const;

  size_t tensor_count() const { return tensors_.size(); }

 private:
  friend class GgufStreamWriter;

  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    const uint8_t* data;
    size_t nbytes;
    std::shared_ptr<std::vector<uint8_t>> owned;  // set by add_tensor
  };

  Status check_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                      size_t nbytes) const;

  uint32_t alignment_ = 32;
  std::vector<GgufKeyValue> kv_;
  std::vector<PendingTensor> tensors_;
};

// Writes a GGUF file one tensor at a time: open() writes all that comes before the tensor data
// (header, metadata, the tensor table with the offsets that follow from the declared sizes),
// write_tensor() then takes each tensor's bytes in the writer's order, and finish() renames
// path.tmp to path. Only path.tmp exists until finish() succeeds; it is removed on any error,
// by abandon() and by the destructor, so no partial file is left under either name.
class GgufStreamWriter {
 public:
  GgufStreamWriter() = default;
  ~GgufStreamWriter() { abandon(); }
  GgufStreamWriter(const GgufStreamWriter&) = delete;
  GgufStreamWriter& operator=(const GgufStreamWriter&) = delete;

  // `layout` is only read during open(); its tensors' data, if any, is ignored.
  Status open(const GgufWriter& layout, const std::string& path);
  // The next tensor's bytes: exactly the size its type and shape give.
  Status write_tensor(const void* data, size_t nbytes);
  // After the last tensor: closes the file and renames it into place.
  Status finish();
  // Closes and removes path.tmp (nothing happens once finish() succeeded).
  void abandon();

  const std::string& temp_path() const { return tmp_; }

 private:
  Status fail(const std::string& what);

  std::FILE* file_ = nullptr;
  std::string path_, tmp_;
  std::vector<size_t> sizes_;  // [tensor] bytes, in file order
  size_t next_ = 0;            // the tensor write_tensor() expects
  uint32_t alignment_ = 32;
  uint64_t pos_ = 0;           // bytes written so far
};

}  // namespace loam
