// The arithmetic and naming behind `loam bench` rows, against values worked out by hand: test
// names as llama-bench writes them, mean and sample standard deviation, tokens/s, the bytes a
// generated token reads, the bandwidth fraction, and the chart's series.
#include <string>
#include <vector>

#include "bench/bench_chart.h"
#include "bench/bench_model.h"
#include "bench/bench_report.h"
#include "bench/bench_test.h"
#include "harness/test.h"

using namespace loam::bench;

TEST_CASE("test names follow llama-bench") {
  CHECK_EQ((BenchTest{512, 0, 0}).name(), std::string("pp512"));
  CHECK_EQ((BenchTest{0, 128, 0}).name(), std::string("tg128"));
  CHECK_EQ((BenchTest{512, 128, 0}).name(), std::string("pp512+tg128"));
  CHECK_EQ((BenchTest{0, 128, 2048}).name(), std::string("tg128 @ d2048"));
  CHECK_EQ((BenchTest{0, 128, 2048}).kind(), std::string("tg128"));
  CHECK_EQ((BenchTest{64, 16, 100}).context_needed(), 180);
}

TEST_CASE("mean and sample standard deviation") {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, 32 / 7 = 4.5714...
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  CHECK_NEAR(mean(v), 5.0, 1e-12);
  CHECK_NEAR(stddev(v), 2.13808993529939, 1e-12);
  CHECK_EQ(stddev({3.0}), 0.0);
  CHECK_EQ(mean({}), 0.0);
}

TEST_CASE("a row's tokens/s and bandwidth fraction") {
  BenchRow r;
  r.test = {0, 32, 0};
  r.samples_ns = {1000000000, 800000000};  // 32 tokens in 1 s and in 0.8 s: 32 and 40 tok/s
  CHECK_NEAR(r.avg_ts(), 36.0, 1e-9);
  CHECK_NEAR(r.stddev_ts(), 5.656854249492381, 1e-9);  // |40 - 32| / sqrt(2)
  r.bytes_per_token = 500000000;                       // 0.5 GB a token
  r.read_bw_gbs = 40.0;
  CHECK_NEAR(r.bw_frac(), 36.0 * 0.5 / 40.0, 1e-12);  // 18 GB/s of 40
  CHECK_NEAR(r.roofline_ts(), 80.0, 1e-9);
  r.test = {32, 0, 0};
  CHECK(r.bw_frac() < 0);  // prompt tests have none
  const std::string line = json_object(r);
  CHECK(line.find("\"bw_frac\": null") != std::string::npos);
  CHECK(line.find("\"n_prompt\": 32") != std::string::npos);
}

TEST_CASE("bytes a generated token reads: weights plus the KV cache at the mean position") {
  ModelSummary m;
  m.weight_bytes_per_token = 1000;
  m.kv_bytes_per_position = 10;
  // 4 tokens after a depth of 100: they attend to 101, 102, 103, 104 positions, mean 102.5.
  CHECK_EQ(bytes_per_generated_token(m, 100, 4), 1000u + 1025u);
  CHECK_EQ(bytes_per_generated_token(m, 0, 1), 1000u + 10u);
}

TEST_CASE("model descriptions follow llama-bench") {
  CHECK_EQ(model_type_name(1100048384, "Q4_0"), std::string("llama 1B Q4_0"));
  CHECK_EQ(model_type_name(6738415616, "Q4_K - Medium"), std::string("llama 7B Q4_K - Medium"));
  CHECK_EQ(model_type_name(15191712, "all F32"), std::string("llama 15M all F32"));
  CHECK_EQ(llama_cpp_ftype_name(loam::FileType::MostlyQ5_K_M), std::string("Q5_K - Medium"));
  CHECK_EQ(llama_cpp_ftype_name(loam::FileType::MostlyQ8_0), std::string("Q8_0"));
}

TEST_CASE("chart: one series per model and test, one roofline per model, x = threads or depth") {
  std::vector<BenchRow> rows;
  for (int t : {1, 2}) {
    for (const BenchTest& test : {BenchTest{64, 0, 0}, BenchTest{0, 16, 0}, BenchTest{0, 32, 0}}) {
      BenchRow r;
      r.model_filename = "synthetic:stories15M:Q4_0";
      r.isa = "avx2";
      r.n_threads = t;
      r.test = test;
      r.samples_ns = {1000000000};
      r.read_bw_gbs = 20.0 * t;
      r.bytes_per_token = 1000000000;
      rows.push_back(r);
    }
  }
  const Chart c = chart_from_rows(rows, "Test CPU");
  CHECK_EQ(c.x_label, std::string("threads"));
  REQUIRE(c.series.size() == 4);  // pp64, tg16, tg32, one roofline (from tg16)
  CHECK_EQ(c.series[0].label, std::string("stories15M:Q4_0 pp64"));
  CHECK_EQ(c.series[1].label, std::string("stories15M:Q4_0 tg16"));
  CHECK_EQ(c.series[2].label, std::string("stories15M:Q4_0 decode limit from bandwidth"));
  CHECK(c.series[2].dashed);
  REQUIRE(c.series[2].points.size() == 2);
  CHECK_NEAR(c.series[2].points[1].x, 2.0, 0);
  CHECK_NEAR(c.series[2].points[1].y, 40.0, 1e-9);  // 40 GB/s / 1 GB a token
  CHECK_EQ(c.series[0].points.size(), size_t(2));
  CHECK(c.title.find("Test CPU") != std::string::npos);
  CHECK(c.subtitle.find("40.0 GB/s with 2 threads") != std::string::npos);

  for (BenchRow& r : rows) r.test.n_depth = r.n_threads == 1 ? 0 : 512;
  const Chart d = chart_from_rows(rows, "Test CPU");
  CHECK_EQ(d.x_label, std::string("context depth (tokens)"));
  // Threads and depths both vary: series are split by thread count.
  CHECK_EQ(d.series[0].label, std::string("stories15M:Q4_0 pp64, 1 thread"));
}
