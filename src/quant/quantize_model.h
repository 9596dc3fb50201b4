// Whole-model quantization (`loam quantize`): reads an F32/F16/BF16 GGUF file or a llama2.c
// checkpoint, picks a type per tensor with llama-quantize's rules (quant/quant_mix.h), converts
// the tensors on a thread pool with llama-quantize's quantizers (by default: the same bytes) and
// writes a GGUF v3 file through OUT.tmp + rename.
//
// The output keeps the input's metadata and alignment, with general.file_type set to the file
// type's llama_ftype number and general.quantization_version = 2; a llama2.c input gets llama.*
// and tokenizer.ggml.* keys so the file is complete for any GGUF reader. Tensors are written in
// llama-quantize's order (quant/quant_mix.h). Conversion runs row by row, so the result does not
// depend on the thread count. The file is streamed: header, metadata and tensor table first
// (the sizes follow from the planned types), then each tensor as it is converted, so the memory
// used is about one converted tensor, not the output file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "loam/dtype.h"
#include "loam/status.h"
#include "quant/quant_mix.h"

namespace loam {

// Where quantization stands; given to QuantizeOptions::progress on the calling thread.
struct QuantizeProgress {
  size_t index = 0;                 // 0-based, in output order
  size_t count = 0;                 // tensors in the file
  std::string name;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  DType from = DType::F32;
  DType to = DType::F32;
  bool converted = false;           // false: bytes copied unchanged
  bool fallback = false;            // the row length forced a fallback type
  size_t bytes_in = 0, bytes_out = 0;
  double fraction = 0.0;            // share of this tensor done, 0..1
  bool done = false;                // the last call for this tensor
};

struct QuantizeOptions {
  FileType file_type = FileType::MostlyQ4_K_M;
  // Keep the input's own type instead (its general.file_type: F32, F16 or BF16), as
  // `loam convert` without TYPE does.
  bool keep_input_type = false;
  std::string tokenizer_path;       // llama2.c tokenizer.bin (see open_quantize_source)
  int n_threads = 0;                // 0: default_thread_count()
  // false: K types are quantized exactly as llama-quantize does (quant/quant_k_llamacpp.h), so
  // the file has its bytes. true: loam's refined search (quant/quantize.h): 2-4% lower RMS
  // error, different bytes.
  bool refine_k = false;
  // Called for every tensor at least once with done = true, and for large tensors also while
  // they are converted. Must not throw.
  std::function<void(const QuantizeProgress&)> progress;
  // Asked on the calling thread between chunks of work (a few ms apart); when it returns true,
  // quantize_model stops, removes OUT.tmp and fails with "interrupted". Must not throw.
  std::function<bool()> stop;
};

struct QuantizeResult {
  std::string format;               // of the input: "gguf" or "llama2c"
  size_t n_tensors = 0;
  size_t n_converted = 0;
  size_t n_fallback = 0;
  uint64_t bytes_in = 0;            // tensor bytes read
  uint64_t bytes_out = 0;           // tensor bytes written
  int n_threads = 0;
  FileType file_type = FileType::AllF32;  // the type written
};

// Fails when writing `out` would replace or truncate `in`: when `out` or `out`.tmp (the
// writer's temporary) is the same file as `in` (same device and inode, so another spelling,
// a symbolic link or a hard link is caught), or when `out` is a directory.
Status check_output_path(const std::string& in, const std::string& out);

// Quantizes `in` into `out`. Nothing appears under `out` unless the whole file was written.
Status quantize_model(const std::string& in, const std::string& out,
                      const QuantizeOptions& options, QuantizeResult* result = nullptr);

}  // namespace loam
