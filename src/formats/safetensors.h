// safetensors files (Hugging Face's weight format): an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// tensor bytes. The header is validated before anything is read through it: every dtype is one we
// compute with (F32, F16, BF16; others are refused naming the tensor and dtype), every shape's
// byte size matches its offsets, the ranges lie inside the file, do not overlap and leave no gap,
// and together cover the data section exactly (as the safetensors library requires).
// Tensors are views into the read-only mapping: nothing is copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "loam/dtype.h"
#include "loam/status.h"

namespace loam {

class MappedFile;

struct SafetensorsTensor {
  std::string name;
  DType type = DType::F32;
  int n_dims = 0;                  // as stored (0 for a scalar)
  int64_t ne[4] = {1, 1, 1, 1};    // GGUF order: ne[0] is the LAST safetensors dimension
  const uint8_t* data = nullptr;   // into the mapping
  size_t nbytes = 0;
  const MappedFile* file = nullptr;  // the shard holding it

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

// One .safetensors file.
class SafetensorsFile {
 public:
  static Status open(const std::string& path, SafetensorsFile& out);
  // Parses a mapping (kept alive by the SafetensorsFile).
  static Status parse(std::shared_ptr<const MappedFile> file, SafetensorsFile& out);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // data order
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }

 private:
  std::string path_;
  std::shared_ptr<const MappedFile> mapping_;
  std::vector<SafetensorsTensor> tensors_;
};

// The weights of a checkpoint: one file, or the shards an index names.
class SafetensorsSet {
 public:
  // `dir`/model.safetensors.index.json when present (weight_map: tensor -> shard file; every
  // shard named must exist and hold exactly the tensors the index gives it), else
  // `dir`/model.safetensors.
  static Status open_dir(const std::string& dir, SafetensorsSet& out);
  // One file alone.
  static Status open_file(const std::string& path, SafetensorsSet& out);
  // Parses an index's text (exposed for tests and fuzzing): fills shard file names in first-use
  // order and the tensor -> shard map.
  static Status parse_index(const std::string& text, const std::string& path,
                            std::vector<std::string>& shards,
                            std::unordered_map<std::string, std::string>& weight_map);

  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Every tensor of every shard, shard by shard in data order.
  std::vector<const SafetensorsTensor*> tensors() const;
  const SafetensorsTensor* find(const std::string& name) const;
  uint64_t total_bytes() const;  // of all the files

 private:
  Status add(SafetensorsFile file);

  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, std::pair<size_t, size_t>> index_;  // name -> (file, tensor)
};

// Parses a header JSON text against a data section of `data_bytes` (exposed for the fuzz target:
// no mapping needed). Fills name, type, dims and the byte range [begin, end) in `ranges`.
Status parse_safetensors_header(const std::string& text, const std::string& path,
                                uint64_t data_bytes, std::vector<SafetensorsTensor>& tensors,
                                std::vector<std::pair<uint64_t, uint64_t>>& ranges);

}  // namespace loam
