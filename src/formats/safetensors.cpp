// safetensors reader: header validation, shards through model.safetensors.index.json.
#include "formats/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/json.h"
#include "core/mmap_file.h"

namespace loam {

namespace {

// A real header is a few hundred KB (one entry per tensor); 100 MB is the safetensors library's
// own limit and keeps a hostile length from sizing a huge string.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;
constexpr int64_t kMaxDim = int64_t{1} << 40;

bool dtype_from_name(const std::string& s, DType& out) {
  if (s == "F32") out = DType::F32;
  else if (s == "F16") out = DType::F16;
  else if (s == "BF16") out = DType::BF16;
  else return false;
  return true;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status read_small_file(const std::string& path, std::string& out) {
  std::shared_ptr<const MappedFile> f;
  LOAM_TRY(MappedFile::open(path, f));
  out.assign(reinterpret_cast<const char*>(f->data()), f->size());
  return Status::ok();
}

}  // namespace

Status parse_safetensors_header(const std::string& text, const std::string& path,
                                uint64_t data_bytes, std::vector<SafetensorsTensor>& tensors,
                                std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  tensors.clear();
  ranges.clear();
  json::Value doc;
  if (Status st = json::parse(text, doc); !st) {
    return Status::error(path + ": header: " + st.message());
  }
  if (!doc.is_object()) return Status::error(path + ": header is not a JSON object");
  for (const json::Member& m : doc.as_object()) {
    const std::string& name = m.first;
    const json::Value& v = m.second;
    if (name == "__metadata__") {
      if (!v.is_object()) return Status::error(path + ": __metadata__ is not an object");
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    if (!v.is_object()) return Status::error(where + ": entry is not an object");
    const json::Value* dtype = v.find("dtype");
    const json::Value* shape = v.find("shape");
    const json::Value* offsets = v.find("data_offsets");
    if (dtype == nullptr || !dtype->is_string()) return Status::error(where + ": no dtype string");
    if (shape == nullptr || !shape->is_array()) return Status::error(where + ": no shape array");
    if (offsets == nullptr || !offsets->is_array() || offsets->as_array().size() != 2) {
      return Status::error(where + ": data_offsets is not [begin, end]");
    }
    SafetensorsTensor t;
    t.name = name;
    if (!dtype_from_name(dtype->as_string(), t.type)) {
      return Status::error(where + " has dtype " + dtype->as_string() +
                           ", which loam does not support (F32, F16, BF16)");
    }
    const json::Array& dims = shape->as_array();
    if (dims.size() > 4) {
      return Status::error(where + " has " + std::to_string(dims.size()) +
                           " dimensions (at most 4)");
    }
    t.n_dims = static_cast<int>(dims.size());
    uint64_t elements = 1;
    for (size_t d = 0; d < dims.size(); ++d) {
      const int64_t n = dims[d].as_int64();
      if (!dims[d].is_integer() || n < 0 || n > kMaxDim) {
        return Status::error(where + ": shape dimension " + std::to_string(d) +
                             " is not an integer in 0.." + std::to_string(kMaxDim));
      }
      // Reversed: safetensors lists the slowest dimension first, GGUF's ne[0] is the row.
      t.ne[dims.size() - 1 - d] = n;
      // Each factor is below 2^40 and the product is checked before it can pass 2^62.
      if (n != 0 && elements > (uint64_t{1} << 62) / static_cast<uint64_t>(n)) {
        return Status::error(where + ": shape has too many elements");
      }
      elements *= static_cast<uint64_t>(n);
    }
    const json::Array& off = offsets->as_array();
    const int64_t begin = off[0].as_int64(), end = off[1].as_int64();
    if (!off[0].is_integer() || !off[1].is_integer() || begin < 0 || end < begin) {
      return Status::error(where + ": data_offsets must be integers with 0 <= begin <= end");
    }
    if (static_cast<uint64_t>(end) > data_bytes) {
      return Status::error(where + ": data_offsets [" + std::to_string(begin) + ", " +
                           std::to_string(end) + "] run past the end of the data (" +
                           std::to_string(data_bytes) + " bytes)");
    }
    const uint64_t elem = t.type == DType::F32 ? 4 : 2;
    const uint64_t want = elements * elem;
    if (static_cast<uint64_t>(end - begin) != want) {
      std::string dims_text;
      for (size_t d = 0; d < dims.size(); ++d) {
        dims_text += (d ? ", " : "") + std::to_string(dims[d].as_int64());
      }
      return Status::error(where + ": shape [" + dims_text + "] of " + dtype->as_string() +
                           " needs " + std::to_string(want) + " bytes but data_offsets span " +
                           std::to_string(end - begin));
    }
    t.nbytes = static_cast<size_t>(want);
    tensors.push_back(std::move(t));
    ranges.emplace_back(static_cast<uint64_t>(begin), static_cast<uint64_t>(end));
  }

  // Sorted by offset, the ranges must tile the data section: an overlap would let two tensors
  // share bytes, a gap or trailing bytes mean the header does not describe the file.
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return ranges[a] < ranges[b];
  });
  uint64_t pos = 0;
  const SafetensorsTensor* prev = nullptr;
  for (const size_t i : order) {
    const auto& r = ranges[i];
    if (r.first < pos) {
      return Status::error(path + ": tensor '" + tensors[i].name + "' overlaps tensor '" +
                           prev->name + "' (bytes " + std::to_string(r.first) + ".." +
                           std::to_string(pos) + ")");
    }
    if (r.first > pos) {
      return Status::error(path + ": " + std::to_string(r.first - pos) +
                           " bytes before tensor '" + tensors[i].name +
                           "' belong to no tensor");
    }
    pos = r.second;
    prev = &tensors[i];
  }
  if (pos != data_bytes) {
    return Status::error(path + ": the tensors cover " + std::to_string(pos) + " of the " +
                         std::to_string(data_bytes) + " data bytes");
  }
  // Data order, so that tensors() follows the file.
  std::vector<SafetensorsTensor> sorted;
  std::vector<std::pair<uint64_t, uint64_t>> sorted_ranges;
  sorted.reserve(order.size());
  for (const size_t i : order) {
    sorted.push_back(std::move(tensors[i]));
    sorted_ranges.push_back(ranges[i]);
  }
  tensors = std::move(sorted);
  ranges = std::move(sorted_ranges);
  return Status::ok();
}

Status SafetensorsFile::open(const std::string& path, SafetensorsFile& out) {
  std::shared_ptr<const MappedFile> file;
  LOAM_TRY(MappedFile::open(path, file));
  return parse(std::move(file), out);
}

Status SafetensorsFile::parse(std::shared_ptr<const MappedFile> file, SafetensorsFile& out) {
  const std::string& path = file->path();
  const uint64_t size = file->size();
  if (size < 8) return Status::error(path + ": too short for a safetensors header");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file->data()[i];
  if (n > kMaxHeaderBytes || n > size - 8) {
    return Status::error(path + ": header length " + std::to_string(n) +
                         " exceeds the file (" + std::to_string(size) +
                         " bytes); not a safetensors file?");
  }
  const std::string text(reinterpret_cast<const char*>(file->data()) + 8,
                         static_cast<size_t>(n));
  SafetensorsFile f;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  const uint64_t data_start = 8 + n;
  LOAM_TRY(parse_safetensors_header(text, path, size - data_start, f.tensors_, ranges));
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    f.tensors_[i].data = file->data() + data_start + ranges[i].first;
    f.tensors_[i].file = file.get();
  }
  f.path_ = path;
  f.mapping_ = std::move(file);
  out = std::move(f);
  return Status::ok();
}

Status SafetensorsSet::parse_index(const std::string& text, const std::string& path,
                                   std::vector<std::string>& shards,
                                   std::unordered_map<std::string, std::string>& weight_map) {
  shards.clear();
  weight_map.clear();
  json::Value doc;
  if (Status st = json::parse(text, doc); !st) return Status::error(path + ": " + st.message());
  const json::Value* map = doc.find("weight_map");
  if (map == nullptr || !map->is_object()) {
    return Status::error(path + ": no \"weight_map\" object");
  }
  for (const json::Member& m : map->as_object()) {
    if (!m.second.is_string()) {
      return Status::error(path + ": weight_map entry '" + m.first + "' is not a file name");
    }
    const std::string& shard = m.second.as_string();
    // A shard is a file beside the index, never a path that leaves the directory.
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
      return Status::error(path + ": weight_map entry '" + m.first + "' names '" + shard +
                           "', not a file in the same directory");
    }
    if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
    weight_map.emplace(m.first, shard);
  }
  if (shards.empty()) return Status::error(path + ": weight_map is empty");
  return Status::ok();
}

Status SafetensorsSet::add(SafetensorsFile file) {
  const size_t fi = files_.size();
  for (size_t ti = 0; ti < file.tensors().size(); ++ti) {
    const std::string& name = file.tensors()[ti].name;
    const auto it = index_.find(name);
    if (it != index_.end()) {
      return Status::error(file.path() + ": tensor '" + name + "' is also in " +
                           files_[it->second.first].path());
    }
    index_.emplace(name, std::make_pair(fi, ti));
  }
  files_.push_back(std::move(file));
  return Status::ok();
}

Status SafetensorsSet::open_file(const std::string& path, SafetensorsSet& out) {
  SafetensorsSet set;
  SafetensorsFile f;
  LOAM_TRY(SafetensorsFile::open(path, f));
  LOAM_TRY(set.add(std::move(f)));
  out = std::move(set);
  return Status::ok();
}

Status SafetensorsSet::open_dir(const std::string& dir, SafetensorsSet& out) {
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (!file_exists(index_path)) {
    const std::string single = dir + "/model.safetensors";
    if (!file_exists(single)) {
      return Status::error(dir + ": no model.safetensors or model.safetensors.index.json");
    }
    return open_file(single, out);
  }
  std::string text;
  LOAM_TRY(read_small_file(index_path, text));
  std::vector<std::string> shards;
  std::unordered_map<std::string, std::string> weight_map;
  LOAM_TRY(parse_index(text, index_path, shards, weight_map));
  SafetensorsSet set;
  for (const std::string& shard : shards) {
    const std::string shard_path = dir + "/" + shard;
    if (!file_exists(shard_path)) {
      return Status::error(index_path + " names shard '" + shard + "', which is missing");
    }
    SafetensorsFile f;
    LOAM_TRY(SafetensorsFile::open(shard_path, f));
    LOAM_TRY(set.add(std::move(f)));
  }
  // The index and the shards must agree both ways.
  for (const auto& [name, shard] : weight_map) {
    const SafetensorsTensor* t = set.find(name);
    if (t == nullptr) {
      return Status::error(index_path + ": tensor '" + name + "' is not in shard '" + shard +
                           "'");
    }
    if (t->file->path() != dir + "/" + shard) {
      return Status::error(index_path + ": tensor '" + name + "' is in " + t->file->path() +
                           ", not in shard '" + shard + "'");
    }
  }
  for (const SafetensorsTensor* t : set.tensors()) {
    if (weight_map.count(t->name) == 0) {
      return Status::error(t->file->path() + ": tensor '" + t->name + "' is not in " +
                           index_path);
    }
  }
  out = std::move(set);
  return Status::ok();
}

std::vector<const SafetensorsTensor*> SafetensorsSet::tensors() const {
  std::vector<const SafetensorsTensor*> all;
  for (const SafetensorsFile& f : files_) {
    for (const SafetensorsTensor& t : f.tensors()) all.push_back(&t);
  }
  return all;
}

const SafetensorsTensor* SafetensorsSet::find(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  return &files_[it->second.first].tensors()[it->second.second];
}

uint64_t SafetensorsSet::total_bytes() const {
  uint64_t n = 0;
  for (const SafetensorsFile& f : files_) n += f.mapping()->size();
  return n;
}

}  // namespace loam
