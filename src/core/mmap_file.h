// A read-only memory mapping of a whole file. Tensors point straight into it (zero copy), so the
// mapping is shared (std::shared_ptr) by everything that holds such a pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "loam/status.h"

namespace loam {

class MappedFile {
 public:
  // Maps `path` read-only. Fails with a one-line message for a missing or unreadable file, a
  // directory, or an empty file.
  static Status open(const std::string& path, std::shared_ptr<const MappedFile>& out);

  // Private anonymous memory of `bytes` (zero pages until written), standing in for a file: a
  // model built in memory (`loam bench --synthetic`) is a mapping like any other, so release()
  // frees the pages of weights copied into another layout. `name` is what path() reports.
  // The creator fills it through writable_data() before sharing it.
  static Status anonymous(size_t bytes, const std::string& name, std::shared_ptr<MappedFile>& out);
  uint8_t* writable_data() { return writable_ ? const_cast<uint8_t*>(data_) : nullptr; }
  // Whether this is such anonymous memory rather than a file.
  bool anonymous_memory() const { return writable_; }

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Tells the kernel this process no longer needs the whole pages inside [p, p + n) (a range of
  // the mapping): they leave its resident set, stay in the page cache, and are read again from
  // there if touched. Used for weights copied into another layout at load time.
  void release(const void* p, size_t n) const;

 private:
  MappedFile() = default;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool writable_ = false;  // anonymous memory (a file is mapped read-only)
  std::string path_;
};

}  // namespace loam
