#include "bench/bench_report.h"

#include <cmath>
#include <cstdio>

#include "core/json.h"

namespace loam::bench {

namespace {

// Locale-independent "%.*f" (the C locale is what printf uses unless a program changes it, and
// loam never calls setlocale).
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string size_text(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fixed(b / (1024.0 * 1024 * 1024), 2) + " GiB";
  return fixed(b / (1024.0 * 1024), 2) + " MiB";
}

std::string params_text(uint64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e9) return fixed(v / 1e9, 2) + " B";
  return fixed(v / 1e6, 2) + " M";
}

std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// Column widths of llama-bench's markdown table, plus Loam's bandwidth column.
constexpr size_t kModelW = 30, kSizeW = 10, kParamsW = 10, kBackendW = 10, kThreadsW = 7,
                 kTestW = 15, kTsW = 20, kBwW = 6;

std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The fields every format shares, in llama-bench's order, then Loam's own. Values are JSON
// literals (strings quoted, arrays in brackets).
std::vector<std::pair<std::string, std::string>> fields(const BenchRow& r) {
  auto str = [](const std::string& s) { return json::quote(s); };
  auto num = [](uint64_t v) { return std::to_string(v); };
  auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
  std::string samples_ns = "[", samples_ts = "[";
  const std::vector<double> ts = r.samples_ts();
  for (size_t i = 0; i < r.samples_ns.size(); ++i) {
    samples_ns += (i ? ", " : " ") + std::to_string(r.samples_ns[i]);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", ts[i]);
    samples_ts += (i ? ", " : " ") + std::string(buf);
  }
  samples_ns += r.samples_ns.empty() ? "]" : " ]";
  samples_ts += r.samples_ns.empty() ? "]" : " ]";
  std::vector<double> ns(r.samples_ns.begin(), r.samples_ns.end());
  const double frac = r.bw_frac();
  return {
      {"build_commit", str(r.build_commit)},
      {"build_number", std::to_string(r.build_number)},
      {"cpu_info", str(r.cpu_info)},
      {"gpu_info", str("")},
      {"backends", str("CPU")},
      {"model_filename", str(r.model_filename)},
      {"model_type", str(r.model_type)},
      {"model_size", num(r.model_size)},
      {"model_n_params", num(r.model_n_params)},
      {"n_batch", std::to_string(r.n_batch)},
      {"n_ubatch", std::to_string(r.n_batch)},
      {"n_threads", std::to_string(r.n_threads)},
      {"type_k", str(r.type_k)},
      {"type_v", str(r.type_v)},
      {"n_gpu_layers", "0"},
      {"use_mmap", boolean(r.use_mmap)},
      {"embeddings", "false"},
      {"n_prompt", std::to_string(r.test.n_prompt)},
      {"n_gen", std::to_string(r.test.n_gen)},
      {"n_depth", std::to_string(r.test.n_depth)},
      {"test_time", str(r.test_time)},
      {"avg_ns", num(static_cast<uint64_t>(std::llround(mean(ns))))},
      {"stddev_ns", num(static_cast<uint64_t>(std::llround(stddev(ns))))},
      {"avg_ts", fixed(r.avg_ts(), 6)},
      {"stddev_ts", fixed(r.stddev_ts(), 6)},
      {"samples_ns", samples_ns},
      {"samples_ts", samples_ts},
      {"isa", str(r.isa)},
      {"synthetic", boolean(r.synthetic)},
      {"read_bw_gbs", fixed(r.read_bw_gbs, 3)},
      {"bytes_per_token", num(r.bytes_per_token)},
      {"bw_frac", frac < 0 ? "null" : fixed(frac, 4)},
  };
}

// CSV holds scalars only, as llama-bench's does (no sample arrays).
bool is_array_field(const std::string& key) { return key == "samples_ns" || key == "samples_ts"; }

}  // namespace

std::vector<double> BenchRow::samples_ts() const {
  std::vector<double> ts;
  for (uint64_t ns : samples_ns) ts.push_back(ns > 0 ? 1e9 * test.tokens() / static_cast<double>(ns) : 0.0);
  return ts;
}

double BenchRow::avg_ts() const { return mean(samples_ts()); }
double BenchRow::stddev_ts() const { return stddev(samples_ts()); }

double BenchRow::bw_frac() const {
  if (test.n_prompt != 0 || test.n_gen == 0 || read_bw_gbs <= 0 || bytes_per_token == 0) return -1;
  return avg_ts() * static_cast<double>(bytes_per_token) / (read_bw_gbs * 1e9);
}

double BenchRow::roofline_ts() const {
  if (read_bw_gbs <= 0 || bytes_per_token == 0) return 0;
  return read_bw_gbs * 1e9 / static_cast<double>(bytes_per_token);
}

std::string model_type_name(uint64_t n_params, const std::string& ftype) {
  const double p = static_cast<double>(n_params);
  char size[32];
  if (p >= 1e9) std::snprintf(size, sizeof size, "%.0fB", p / 1e9);
  else if (p >= 1e6) std::snprintf(size, sizeof size, "%.0fM", p / 1e6);
  else std::snprintf(size, sizeof size, "%.0fK", p / 1e3);
  return std::string("llama ") + size + " " + ftype;
}

bool parse_output_format(const std::string& name, OutputFormat& out) {
  if (name == "md") out = OutputFormat::Markdown;
  else if (name == "csv") out = OutputFormat::Csv;
  else if (name == "json") out = OutputFormat::Json;
  else if (name == "jsonl") out = OutputFormat::Jsonl;
  else return false;
  return true;
}

std::string json_object(const BenchRow& r) {
  std::string out = "{";
  bool first = true;
  for (const auto& kv : fields(r)) {
    out += (first ? "" : ", ") + json::quote(kv.first) + ": " + kv.second;
    first = false;
  }
  return out + "}";
}

std::string header(OutputFormat format) {
  switch (format) {
    case OutputFormat::Markdown: {
      std::string h = "| " + pad_right("model", kModelW) + " | " + pad_left("size", kSizeW) + " | " +
                      pad_left("params", kParamsW) + " | " + pad_right("backend", kBackendW) + " | " +
                      pad_left("threads", kThreadsW) + " | " + pad_left("test", kTestW) + " | " +
                      pad_left("t/s", kTsW) + " | " + pad_left("bw", kBwW) + " |\n";
      h += "| " + std::string(kModelW, '-') + " | " + std::string(kSizeW - 1, '-') + ": | " +
           std::string(kParamsW - 1, '-') + ": | " + std::string(kBackendW, '-') + " | " +
           std::string(kThreadsW - 1, '-') + ": | " + std::string(kTestW - 1, '-') + ": | " +
           std::string(kTsW - 1, '-') + ": | " + std::string(kBwW - 1, '-') + ": |\n";
      return h;
    }
    case OutputFormat::Csv: {
      std::string h;
      for (const auto& kv : fields(BenchRow{})) {
        if (is_array_field(kv.first)) continue;
        h += (h.empty() ? "" : ",") + kv.first;
      }
      return h + "\n";
    }
    case OutputFormat::Json: return "[\n";
    case OutputFormat::Jsonl: return "";
  }
  return "";
}

std::string row(OutputFormat format, const BenchRow& r, bool first) {
  switch (format) {
    case OutputFormat::Markdown: {
      const double frac = r.bw_frac();
      return "| " + pad_right(r.model_type, kModelW) + " | " + pad_left(size_text(r.model_size), kSizeW) +
             " | " + pad_left(params_text(r.model_n_params), kParamsW) + " | " +
             pad_right("CPU " + r.isa, kBackendW) + " | " +
             pad_left(std::to_string(r.n_threads), kThreadsW) + " | " + pad_left(r.test.name(), kTestW) +
             " | " + pad_left(fixed(r.avg_ts(), 2) + " ± " + fixed(r.stddev_ts(), 2), kTsW + 1) + " | " +
             pad_left(frac < 0 ? "" : fixed(100 * frac, 0) + " %", kBwW) + " |\n";
    }
    case OutputFormat::Csv: {
      std::string line;
      for (const auto& kv : fields(r)) {
        if (is_array_field(kv.first)) continue;
        // Values as llama-bench writes them: every one quoted, strings without JSON escapes,
        // and a missing value (JSON null) empty.
        std::string v = kv.second == "null" ? std::string() : kv.second;
        if (v.size() >= 2 && v.front() == '"') {
          json::Value parsed;
          if (json::parse(v, parsed) && parsed.is_string()) v = parsed.as_string();
        }
        line += (line.empty() ? "" : ",") + csv_quote(v);
      }
      return line + "\n";
    }
    case OutputFormat::Json: {
      std::string out = first ? "  {\n" : ",\n  {\n";
      bool first_field = true;
      for (const auto& kv : fields(r)) {
        out += (first_field ? "" : ",\n") + std::string("    ") + json::quote(kv.first) + ": " + kv.second;
        first_field = false;
      }
      return out + "\n  }";
    }
    case OutputFormat::Jsonl: return json_object(r) + "\n";
  }
  return "";
}

std::string footer(OutputFormat format) {
  return format == OutputFormat::Json ? "\n]\n" : "";
}

}  // namespace loam::bench
