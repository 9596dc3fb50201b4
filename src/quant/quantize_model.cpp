#include "quant/quantize_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "core/fp16.h"
#include "core/mmap_file.h"
#include "core/thread_pool.h"
#include "formats/gguf_writer.h"
#include "loam/session.h"
#include "quant/dequantize.h"
#include "quant/quant_k_llamacpp.h"
#include "quant/quantize.h"
#include "quant/quantize_source.h"

namespace loam {

namespace {

// llama.cpp's GGML_QNT_VERSION: the bit layout of the quantized blocks written here.
constexpr uint32_t kQuantizationVersion = 2;
// Elements per work chunk: large enough that claiming a chunk costs nothing next to quantizing
// it (a K-type row of 4096 takes ~0.5 ms), small enough that 2 threads stay balanced on the
// smallest tensors of a tiny model.
constexpr int64_t kChunkElements = 1 << 16;
// The pool's claim counter holds at most 2^20 chunks per call.
constexpr int64_t kMaxChunks = 1 << 16;
constexpr const char* kInterrupted = "interrupted";

std::string shape_text(const Tensor& t) {
  std::string s = "[";
  for (int d = 0; d < std::max(1, t.n_dims); ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

// Converts one f32 row to `to` (a plain float type or a block type).
bool convert_row(DType to, const float* x, void* y, int64_t n, bool refine_k) {
  switch (to) {
    case DType::F32:
      std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
      return true;
    case DType::F16: {
      uint16_t* h = static_cast<uint16_t*>(y);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(x[i]);
      return true;
    }
    case DType::BF16: {
      uint16_t* b = static_cast<uint16_t*>(y);
      for (int64_t i = 0; i < n; ++i) b[i] = fp32_to_bf16(x[i]);
      return true;
    }
    default:
      return refine_k ? quantize_row(to, x, y, n) : quantize_row_llamacpp(to, x, y, n);
  }
}

// Whether no value of x[0..n) is a NaN or an infinity: the exponent bits of all of them or-ed
// together without an early exit, so that the compiler vectorizes it: the first-failure loop it replaces, run on
// every row, took a fifth of `quantize`'s time for Q4_0.
bool all_finite(const float* x, int64_t n) {
  uint32_t non_finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    non_finite |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return non_finite == 0;
}

// Converts every row of `src` to `to` into `out` ([rows][row bytes of `to`]), on the pool.
// `report(fraction)` is called on the calling thread as its chunks finish, and so is `stop`.
Status convert_tensor(const Tensor& src, DType to, bool refine_k, ThreadPool& pool,
                      std::vector<uint8_t>& out, const std::function<void(double)>& report,
                      const std::function<bool()>& stop) {
  const int64_t n = src.cols();
  const int64_t rows = src.rows();
  const size_t out_row_bytes = dtype_row_bytes(to, n);
  const size_t out_bytes = out_row_bytes * static_cast<size_t>(rows);
  // Growing in place would copy the previous tensor's bytes and briefly hold both.
  if (out.capacity() < out_bytes) std::vector<uint8_t>().swap(out);
  out.resize(out_bytes);
  int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElements / n);
  rows_per_chunk = std::max(rows_per_chunk, (rows + kMaxChunks - 1) / kMaxChunks);
  const int64_t n_chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  // A block type would turn one NaN or infinity into garbage for its whole block (a scale of
  // NaN), so those inputs are refused; float targets keep such values as they are.
  const bool check_finite = dtype_info(to).block_size > 1;

  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.size()),
                                          std::vector<float>(static_cast<size_t>(n)));  // [thread][n] f32
  std::atomic<int64_t> chunks_done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;
  auto fail = [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!failed.exchange(true)) error = message;
  };

  pool.parallel_for(n_chunks, [&](int64_t chunk, int thread) {
    if (failed.load(std::memory_order_relaxed)) return;
    float* row = scratch[static_cast<size_t>(thread)].data();
    const int64_t begin = chunk * rows_per_chunk;
    const int64_t end = std::min(rows, begin + rows_per_chunk);
    for (int64_t r = begin; r < end; ++r) {
      if (!dequantize_row(src.type, src.row(r), row, n)) {
        fail("tensor '" + src.name + "': cannot read type " + dtype_name(src.type));
        return;
      }
      if (check_finite && !all_finite(row, n)) {
        for (int64_t i = 0; i < n; ++i) {
          if (!std::isfinite(row[i])) {
            fail("tensor '" + src.name + "' row " + std::to_string(r) +
                 " holds a NaN or infinity");
            return;
          }
        }
      }
      if (!convert_row(to, row, out.data() + static_cast<size_t>(r) * out_row_bytes, n,
                       refine_k)) {
        fail("tensor '" + src.name + "': cannot convert rows of " + std::to_string(n) +
             " to " + dtype_name(to));
        return;
      }
    }
    const int64_t done = chunks_done.fetch_add(1) + 1;
    if (thread == 0 && report) report(static_cast<double>(done) / static_cast<double>(n_chunks));
    // Thread 0 is the caller's, which takes chunks until none are left: a stop request is seen
    // within one chunk (a few ms) and the other threads end at their next one.
    if (thread == 0 && stop && stop()) fail(kInterrupted);
  });
  if (failed) return Status::error(error);
  return Status::ok();
}

std::vector<MixTensor> mix_view(const std::vector<Tensor>& tensors) {
  std::vector<MixTensor> out(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    out[i].name = tensors[i].name;
    out[i].n_dims = tensors[i].n_dims;
    for (int d = 0; d < 4; ++d) out[i].ne[d] = tensors[i].ne[d];
    out[i].type = tensors[i].type;
  }
  return out;
}

}  // namespace

Status check_output_path(const std::string& in, const std::string& out) {
  struct stat in_st;
  if (stat(in.c_str(), &in_st) != 0) {
    return Status::error("cannot open " + in + ": " + std::strerror(errno));
  }
  struct stat out_st;
  if (stat(out.c_str(), &out_st) == 0 && S_ISDIR(out_st.st_mode)) {
    return Status::error(out + " is a directory; give the output file's name");
  }
  for (const std::string& target : {out, out + ".tmp"}) {
    struct stat st;
    if (stat(target.c_str(), &st) == 0 && st.st_dev == in_st.st_dev &&
        st.st_ino == in_st.st_ino) {
      return Status::error("refusing to overwrite the input: " + target + " is the same file as " +
                           in);
    }
  }
  return Status::ok();
}

Status quantize_model(const std::string& in, const std::string& out,
                      const QuantizeOptions& options, QuantizeResult* result) {
  LOAM_TRY(check_output_path(in, out));
  QuantizeSource src;
  LOAM_TRY(open_quantize_source(in, options.tokenizer_path, src));

  FileType file_type = options.file_type;
  if (options.keep_input_type) {
    // The input's general.file_type (written by open_hf_quantize_source, or the GGUF's own).
    bool found = false;
    for (const GgufKeyValue& kv : src.metadata) {
      int64_t v = -1;
      if (kv.key != "general.file_type" || !kv.value.to_int(v)) continue;
      for (FileType t : {FileType::AllF32, FileType::MostlyF16, FileType::MostlyBF16}) {
        if (v == static_cast<int64_t>(t)) {
          file_type = t;
          found = true;
        }
      }
    }
    if (!found) return Status::error(in + ": no general.file_type of F32, F16 or BF16 to keep");
  }
  const std::vector<MixTensor> mix = mix_view(src.tensors);
  std::vector<MixChoice> plan;
  Status planned = plan_tensor_types(file_type, src.model, mix, plan);
  if (!planned) return Status::error(in + ": " + planned.message());

  GgufWriter writer;
  for (const GgufKeyValue& kv : src.metadata) writer.set(kv.key, kv.value);
  LOAM_TRY(writer.set_alignment(src.alignment));  // replaces a copied general.alignment in place
  writer.set("general.quantization_version", GgufValue::make_u32(kQuantizationVersion));
  writer.set("general.file_type",
             GgufValue::make_u32(static_cast<uint32_t>(file_type)));

  // The tensor table first: each output size follows from the planned type and the shape, so
  // the whole layout is known before any tensor is converted.
  const std::vector<size_t> order = llama_quantize_order(mix);
  for (const size_t i : order) {
    const Tensor& t = src.tensors[i];
    std::vector<int64_t> ne(t.ne, t.ne + std::max(1, t.n_dims));
    Status added = writer.add_tensor_info(t.name, plan[i].type, ne);
    if (!added) {
      return Status::error(in + ": tensor '" + t.name + "' " + shape_text(t) + ": " +
                           added.message());
    }
  }

  const int n_threads = options.n_threads > 0 ? options.n_threads : default_thread_count();
  ThreadPool pool(n_threads);
  QuantizeResult res;
  res.format = src.format;
  res.n_tensors = src.tensors.size();
  res.n_threads = n_threads;
  res.file_type = file_type;

  // Then each tensor is converted and written in turn: one converted tensor is in memory at a
  // time (the largest, output.weight, is ~54 MB for a 1.1B model in Q4_K_M) instead of the
  // whole output. The stream removes OUT.tmp on every error path.
  GgufStreamWriter stream;
  LOAM_TRY(stream.open(writer, out));
  std::vector<uint8_t> converted;  // [rows][row bytes of the output type], reused
  for (size_t k = 0; k < order.size(); ++k) {
    if (options.stop && options.stop()) return Status::error(kInterrupted);
    const size_t i = order[k];
    const Tensor& t = src.tensors[i];
    const MixChoice& c = plan[i];
    QuantizeProgress p;
    p.index = k;
    p.count = order.size();
    p.name = t.name;
    p.n_dims = t.n_dims;
    for (int d = 0; d < 4; ++d) p.ne[d] = t.ne[d];
    p.from = t.type;
    p.to = c.type;
    p.converted = c.convert;
    p.fallback = c.fallback;
    p.bytes_in = t.nbytes;

    const void* data = t.data;
    size_t nbytes = t.nbytes;
    if (c.convert) {
      auto report = [&](double fraction) {
        if (!options.progress) return;
        p.fraction = fraction;
        options.progress(p);
      };
      Status st = convert_tensor(t, c.type, options.refine_k, pool, converted, report,
                                 options.stop);
      if (!st) return Status::error(st.message() == kInterrupted ? st.message()
                                                                 : in + ": " + st.message());
      data = converted.data();
      nbytes = converted.size();
      ++res.n_converted;
      if (c.fallback) ++res.n_fallback;
    }
    LOAM_TRY(stream.write_tensor(data, nbytes));
    // The input is read once: its pages need not stay in this process's resident set.
    src.mapping->release(t.data, t.nbytes);
    res.bytes_in += t.nbytes;
    res.bytes_out += nbytes;
    if (options.progress) {
      p.bytes_out = nbytes;
      p.fraction = 1.0;
      p.done = true;
      options.progress(p);
    }
  }
  LOAM_TRY(stream.finish());
  if (result != nullptr) *result = res;
  return Status::ok();
}

}  // namespace loam
