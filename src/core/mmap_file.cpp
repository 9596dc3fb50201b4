#include "core/mmap_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace loam {

Status MappedFile::open(const std::string& path, std::shared_ptr<const MappedFile>& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::error("cannot stat " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::error("cannot open " + path + ": is a directory");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error("cannot open " + path + ": not a regular file");
  }
  if (st.st_size <= 0) {
    ::close(fd);
    return Status::error(path + " is empty");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  // The mapping keeps its own reference to the file; the descriptor is no longer needed.
  ::close(fd);
  if (addr == MAP_FAILED) {
    return Status::error("cannot map " + path + ": " + std::strerror(map_err));
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->data_ = static_cast<const uint8_t*>(addr);
  file->size_ = size;
  file->path_ = path;
  out = std::move(file);
  return Status::ok();
}

Status MappedFile::anonymous(size_t bytes, const std::string& name,
                             std::shared_ptr<MappedFile>& out) {
  if (bytes == 0) return Status::error(name + ": nothing to allocate");
  void* addr = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) {
    return Status::error(name + ": cannot allocate " + std::to_string(bytes) + " bytes: " +
                         std::strerror(errno));
  }
#ifdef MADV_HUGEPAGE
  // In 2 MiB pages where the kernel gives them, as the weight copies a file's model gets at load
  // (model/interleave_weights.cpp): a model built in memory then decodes as the file's does.
  (void)madvise(addr, bytes, MADV_HUGEPAGE);
#endif
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->data_ = static_cast<const uint8_t*>(addr);
  m->size_ = bytes;
  m->writable_ = true;
  m->path_ = name;
  out = std::move(m);
  return Status::ok();
}

void MappedFile::release(const void* p, size_t n) const {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(data_), hi = lo + size_;
  if (begin >= end || begin < lo || end > hi) return;
  // Advice only: if it fails the pages simply stay resident. (For anonymous memory the pages are
  // freed and would read back as zeros; only pages no longer read are released.)
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace loam
