// `loam bench` as a user runs it: llama-bench's output formats (JSON and JSONL rows parsed with
// our strict reader and checked for llama-bench's field names), the markdown table, tests at a
// depth, the SVG chart, refusing a model too large for memory before allocating it, and usage
// errors. Synthetic models keep these tests independent of ../shared except where named.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "core/json.h"
#include "core/memory_budget.h"
#include "harness/test.h"
#include "loam/session.h"
#include "model/synthetic_model.h"
#include "xml_check.h"

using loam_cli_test::Result;
using loam_cli_test::run;
namespace json = loam::json;

namespace {

// A small, quick run: the probe streams 64 MiB instead of 1 GiB.
std::vector<std::string> quick(std::vector<std::string> args) {
  std::vector<std::string> a = {"bench", "--synthetic", "stories15M:q4_0", "-r", "2", "--bw-size", "64M"};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

// The fields llama-bench's JSON rows carry that Loam reports, with their JSON types, plus Loam's.
void check_row_fields(const json::Value& row) {
  REQUIRE(row.is_object());
  for (const char* key : {"build_commit", "cpu_info", "gpu_info", "backends", "model_filename",
                          "model_type", "type_k", "type_v", "test_time", "isa"}) {
    const json::Value* v = row.find(key);
    CHECK(v != nullptr && v->is_string());
  }
  for (const char* key : {"build_number", "model_size", "model_n_params", "n_batch", "n_ubatch",
                          "n_threads", "n_prompt", "n_gen", "n_depth", "avg_ns", "stddev_ns"}) {
    const json::Value* v = row.find(key);
    CHECK(v != nullptr && v->is_integer());
  }
  for (const char* key : {"avg_ts", "stddev_ts", "read_bw_gbs"}) {
    const json::Value* v = row.find(key);
    CHECK(v != nullptr && v->is_number());
  }
  const json::Value* ns = row.find("samples_ns");
  const json::Value* ts = row.find("samples_ts");
  REQUIRE(ns != nullptr && ns->is_array() && ts != nullptr && ts->is_array());
  REQUIRE(ns->as_array().size() == 2);  // -r 2, the warm-up not counted
  REQUIRE(ts->as_array().size() == 2);
  // tokens/s recomputed from the nanoseconds: each sample, and their mean as avg_ts.
  const double tokens = static_cast<double>(row.find("n_prompt")->as_int64() + row.find("n_gen")->as_int64());
  double sum = 0;
  for (size_t i = 0; i < 2; ++i) {
    const double expect = tokens * 1e9 / static_cast<double>(ns->as_array()[i].as_int64());
    CHECK_NEAR(ts->as_array()[i].as_number(), expect, expect * 1e-5);
    sum += expect;
  }
  CHECK_NEAR(row.find("avg_ts")->as_number(), sum / 2, sum / 2 * 1e-5);
  CHECK_EQ(row.find("model_n_params")->as_int64(), 15191712);
  CHECK_EQ(row.find("model_type")->as_string(), std::string("llama 15M Q4_0"));
  CHECK_EQ(row.find("backends")->as_string(), std::string("CPU"));
  // bw_frac: a fraction for generation tests, null for prompt tests.
  const json::Value* frac = row.find("bw_frac");
  REQUIRE(frac != nullptr);
  if (row.find("n_prompt")->as_int64() == 0) {
    CHECK(frac->is_number() && frac->as_number() > 0 && frac->as_number() < 5);
    CHECK(row.find("bytes_per_token")->as_int64() > 0);
  } else {
    CHECK(frac->is_null());
  }
}

// data-label of every <g class="CLASS"> in the document.
std::set<std::string> labels_of(const xml_check::Element& root, const std::string& cls) {
  std::vector<const xml_check::Element*> groups;
  xml_check::find_all(root, "g", groups);
  std::set<std::string> labels;
  for (const xml_check::Element* g : groups) {
    if (g->attribute_or("class", "") == cls) labels.insert(g->attribute_or("data-label", ""));
  }
  return labels;
}

}  // namespace

TEST_CASE("bench -o jsonl: one parseable row per test and thread count, llama-bench's fields") {
  const Result r = run(quick({"-p", "16", "-n", "4", "-t", "1,2", "-o", "jsonl"}));
  REQUIRE(r.code == 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 4);
  std::set<std::string> seen;
  for (const std::string& line : lines) {
    json::Value row;
    const loam::Status st = json::parse(line, row);
    REQUIRE(st);
    check_row_fields(row);
    seen.insert(std::to_string(row.find("n_threads")->as_int64()) + "/" +
                std::to_string(row.find("n_prompt")->as_int64()) + "/" +
                std::to_string(row.find("n_gen")->as_int64()));
  }
  CHECK(seen == (std::set<std::string>{"1/16/0", "1/0/4", "2/16/0", "2/0/4"}));
  // Logs on stderr, never on stdout.
  CHECK(r.err.find("read bandwidth") != std::string::npos);
  CHECK(r.out.find("loam bench:") == std::string::npos);
}

TEST_CASE("bench -o json: one JSON array of rows") {
  const Result r = run(quick({"-p", "8", "-n", "2", "-o", "json"}));
  REQUIRE(r.code == 0);
  json::Value doc;
  REQUIRE(json::parse(r.out, doc));
  REQUIRE(doc.is_array());
  REQUIRE(doc.as_array().size() == 2);
  for (const json::Value& row : doc.as_array()) check_row_fields(row);
}

TEST_CASE("bench -o csv: a header of llama-bench's field names, one quoted line per test") {
  const Result r = run(quick({"-p", "8", "-n", "2", "-o", "csv"}));
  REQUIRE(r.code == 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("build_commit,build_number,cpu_info,", 0) == 0);
  CHECK(lines[0].find(",avg_ts,stddev_ts,") != std::string::npos);
  const size_t columns = std::count(lines[0].begin(), lines[0].end(), ',') + 1;
  for (size_t i = 1; i < lines.size(); ++i) {
    // Every value is quoted: 2 quotes per column.
    CHECK_EQ(static_cast<size_t>(std::count(lines[i].begin(), lines[i].end(), '"')), 2 * columns);
  }
}

TEST_CASE("bench markdown: llama-bench's table, tests at a depth and pp+tg tests") {
  const Result r = run(quick({"-p", "0", "-n", "4", "-pg", "8,2", "-d", "0,24"}));
  REQUIRE(r.code == 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 6);  // header, rule, 4 rows
  CHECK(lines[0].rfind("| model ", 0) == 0);
  for (const char* col : {"size", "params", "backend", "threads", "test", "t/s", "bw"})
    CHECK(lines[0].find(col) != std::string::npos);
  const char* tests[] = {"tg4", "pp8+tg2", "tg4 @ d24", "pp8+tg2 @ d24"};
  for (int i = 0; i < 4; ++i) {
    CHECK(lines[2 + i].find(tests[i]) != std::string::npos);
    CHECK(lines[2 + i].find("llama 15M Q4_0") != std::string::npos);
    CHECK(lines[2 + i].find(" ± ") != std::string::npos);
  }
  // The bandwidth column is filled for generation tests only.
  CHECK(lines[2].find(" % |") != std::string::npos);
  CHECK(lines[3].find(" % |") == std::string::npos);
}

TEST_CASE("bench lists take llama-bench's ranges: FIRST-LAST, +STEP and *FACTOR") {
  const Result r = run(quick({"-p", "4-16*2", "-n", "0", "-t", "1-2", "-d", "0-8+8", "-r", "1", "-o", "jsonl"}));
  REQUIRE(r.code == 0);
  std::multiset<std::string> seen;
  for (const std::string& line : lines_of(r.out)) {
    json::Value row;
    REQUIRE(json::parse(line, row));
    seen.insert("t" + std::to_string(row.find("n_threads")->as_int64()) + " p" +
                std::to_string(row.find("n_prompt")->as_int64()) + " d" +
                std::to_string(row.find("n_depth")->as_int64()));
  }
  // p: 4, 8, 16; t: 1, 2; d: 0, 8.
  std::multiset<std::string> expect;
  for (int t : {1, 2})
    for (int d : {0, 8})
      for (int p : {4, 8, 16}) expect.insert("t" + std::to_string(t) + " p" + std::to_string(p) + " d" + std::to_string(d));
  CHECK(seen == expect);
  for (const char* bad : {"8-4", "1-1000000", "4-16*1", "0-8*2", "4-", "-4"}) {
    const Result e = run(quick({"-p", bad}));
    CHECK_EQ(e.code, 2);
  }
}

TEST_CASE("bench --svg: a well-formed chart with each series and its roofline") {
  const std::string svg_path = loam_test::temp_dir() + "/bench.svg";
  const Result r = run(quick({"-p", "8", "-n", "4", "-t", "1,2", "--svg", svg_path}));
  REQUIRE(r.code == 0);
  const xml_check::Result doc = xml_check::parse(loam_cli_test::slurp(svg_path));
  REQUIRE(doc.ok);
  const std::set<std::string> series = labels_of(doc.root, "series");
  const std::set<std::string> legend = labels_of(doc.root, "legend-entry");
  for (const char* label : {"stories15M:Q4_0 pp8", "stories15M:Q4_0 tg4",
                            "stories15M:Q4_0 decode limit from bandwidth"}) {
    CHECK(series.count(label) == 1);
    CHECK(legend.count(label) == 1);
  }
  CHECK_EQ(series.size(), size_t(3));
  CHECK(doc.root.all_text().find("threads") != std::string::npos);
  // Against depth when there are several depths.
  const Result d = run(quick({"-p", "0", "-n", "4", "-d", "0,16", "--svg", svg_path}));
  REQUIRE(d.code == 0);
  const xml_check::Result by_depth = xml_check::parse(loam_cli_test::slurp(svg_path));
  REQUIRE(by_depth.ok);
  CHECK(by_depth.root.all_text().find("context depth") != std::string::npos);
  CHECK(labels_of(by_depth.root, "series").count("stories15M:Q4_0 tg4") == 1);
}

TEST_CASE("bench refuses a synthetic model too large for memory, before allocating it") {
  // --max-memory stands in for a small machine: Llama 2 7B in F16 needs about 13.5 GB.
  const Result r = run({"bench", "--synthetic", "llama2-7b:f16", "--max-memory", "1G", "-r", "1"});
  CHECK_EQ(r.code, 1);
  CHECK_EQ(r.out, std::string());
  CHECK_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  CHECK(r.err.rfind("loam: error: synthetic model llama2-7b:F16", 0) == 0);
  CHECK(r.err.find("needs") != std::string::npos);
  CHECK(r.err.find("1073741824 bytes") != std::string::npos);
  CHECK(r.err.find("--max-memory") != std::string::npos);
  // Refused before the probe and the weights: the process never grew past 200 MiB.
  CHECK(r.max_rss_kib < 200 * 1024);

  // And without a cap, on this machine: a model larger than the memory available.
  loam::SyntheticPlan plan;
  REQUIRE(loam::plan_synthetic_model("llama3-8b:f32", plan));
  if (plan.buffer_bytes > loam::available_memory().available) {
    const Result big = run({"bench", "--synthetic", "llama3-8b:f32", "-r", "1"});
    CHECK_EQ(big.code, 1);
    CHECK(big.err.find("are available") != std::string::npos);
    CHECK(big.max_rss_kib < 200 * 1024);
  }
}

TEST_CASE("shared: bench -m reads a model file") {
  const std::string model = loam_test::shared_file("models/synth/synth-tiny-Q4_K_M.gguf");
  const Result r = run({"bench", "-m", model, "-p", "8", "-n", "2", "-r", "2", "--bw-size", "64M", "-o", "jsonl"});
  REQUIRE(r.code == 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 2);
  json::Value row;
  REQUIRE(json::parse(lines[1], row));
  CHECK_EQ(row.find("model_filename")->as_string(), model);
  CHECK(row.find("model_type")->as_string().find("Q4_K - Medium") != std::string::npos);
  CHECK(row.find("use_mmap")->as_bool());
}

TEST_CASE("bench usage errors: exit 2 with one line") {
  const std::vector<std::vector<std::string>> bad = {
      {"bench"},
      {"bench", "--synthetic", "gpt5:q4_0"},
      {"bench", "--synthetic", "tinyllama-1.1b"},
      {"bench", "--synthetic", "stories15M:q4_0", "-o", "xml"},
      {"bench", "--synthetic", "stories15M:q4_0", "-p", "abc"},
      {"bench", "--synthetic", "stories15M:q4_0", "-t", "0"},
      {"bench", "--synthetic", "stories15M:q4_0", "-pg", "8"},
      {"bench", "--synthetic", "stories15M:q4_0", "-ctk", "q4_0"},
      {"bench", "--synthetic", "stories15M:q4_0", "--bw-size", "1K"},
      {"bench", "--synthetic", "stories15M:q4_0", "-p", "0", "-n", "0"},
  };
  for (const auto& args : bad) {
    const Result r = run(args);
    CHECK_EQ(r.code, 2);
    CHECK_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    CHECK(r.err.rfind("loam: error:", 0) == 0);
    CHECK_EQ(r.out, std::string());
  }
  const Result missing = run({"bench", "-m", "/nonexistent/model.gguf", "-r", "1", "--bw-size", "0"});
  CHECK_EQ(missing.code, 1);
  CHECK(missing.err.find("/nonexistent/model.gguf") != std::string::npos);
}

TEST_CASE("bench --help lists llama-bench's flags") {
  const Result r = run({"bench", "--help"});
  CHECK_EQ(r.code, 0);
  for (const char* flag : {"--model", "--synthetic", "--n-prompt", "--n-gen", "-pg", "--n-depth",
                           "--threads", "--repetitions", "--output", "--svg", "--cache-type-k",
                           "--cache-type-v", "--no-warmup", "--max-memory", "stories15M", "llama3-8b"})
    CHECK(r.out.find(flag) != std::string::npos);
}
