// One result row of `loam bench` and its renderings: llama-bench's markdown table, CSV, JSON and
// JSONL, with llama-bench's field names (so its users' scripts read ours) plus Loam's own: the
// kernel set (isa), the read bandwidth measured in the same run and, for generation tests, the
// fraction of it that decoding used (bw_frac).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_test.h"

namespace loam::bench {

struct BenchRow {
  // The build and the machine.
  std::string build_commit;
  int build_number = 0;
  std::string cpu_info;         // CPU model name
  std::string isa;              // kernel set in use: "avx2", "avx512", ...
  // The model.
  std::string model_filename;   // path, or "synthetic:tinyllama-1.1b:Q4_0"
  std::string model_type;       // llama-bench's description: "llama 1B Q4_0"
  uint64_t model_size = 0;      // bytes of all tensors
  uint64_t model_n_params = 0;
  bool synthetic = false;
  // The parameters.
  int n_batch = 0;              // tokens per forward pass in a prompt
  int n_threads = 0;
  std::string type_k = "f32", type_v = "f32";
  bool use_mmap = true;
  BenchTest test;
  std::string test_time;        // ISO 8601 UTC, when the test started
  std::vector<uint64_t> samples_ns;  // one per repetition (warm-up excluded)
  // What bounds decode: bytes one generated token reads (weights, plus the KV cache at the
  // test's mean depth) and the read bandwidth measured by this run with n_threads threads.
  uint64_t bytes_per_token = 0;
  double read_bw_gbs = 0;

  std::vector<double> samples_ts() const;  // tokens/s per repetition
  double avg_ts() const;
  double stddev_ts() const;
  // Generation tests only (n_prompt == 0): avg_ts x bytes_per_token / read bandwidth; < 0 when
  // it does not apply.
  double bw_frac() const;
  // The decode rate the bandwidth allows: read_bw / bytes_per_token (tokens/s), 0 if unknown.
  double roofline_ts() const;
};

// "llama 1B Q4_0": llama-bench's model description (architecture, size class, file type as
// llama.cpp names it, e.g. "Q4_K - Medium").
std::string model_type_name(uint64_t n_params, const std::string& llama_cpp_ftype_name);

enum class OutputFormat { Markdown, Csv, Json, Jsonl };
bool parse_output_format(const std::string& name, OutputFormat& out);

// Renders rows as they arrive: header() once, row() per result, footer() at the end (the JSON
// array's brackets; the table's header line).
std::string header(OutputFormat format);
std::string row(OutputFormat format, const BenchRow& r, bool first);
std::string footer(OutputFormat format);

// The JSON object of one row (one line, as in JSONL).
std::string json_object(const BenchRow& r);

}  // namespace loam::bench
