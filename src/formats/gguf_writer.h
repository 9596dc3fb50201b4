// Writes GGUF v3 files: metadata of every value type and tensors with alignment padding. Used by
// test fixtures, the model generator in tools/, and `loam quantize`.
#pragma once

#include <cstdint>
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

  // Writes the file to path + ".tmp" and renames it over `path`, so a failed write never leaves
  // a half-written model under the final name.
  Status write(const std::string& path) const;

  size_t tensor_count() const { return tensors_.size(); }

 private:
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

}  // namespace loam
