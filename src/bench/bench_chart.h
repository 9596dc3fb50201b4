// The chart `loam bench --svg` writes: tokens/s of every test against thread count (or against
// context depth when the run had several depths), one colour per model, and for generation
// tests the decode rate the measured read bandwidth allows, dashed.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/svg_chart.h"

namespace loam::bench {

// The series and axes for `rows` (any mix of models, tests, threads and depths).
Chart chart_from_rows(const std::vector<BenchRow>& rows, const std::string& cpu_info);
// chart_from_rows rendered as a standalone SVG document.
std::string render_chart(const std::vector<BenchRow>& rows, const std::string& cpu_info);

}  // namespace loam::bench
