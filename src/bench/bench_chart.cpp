#include "bench/bench_chart.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace loam::bench {

namespace {

std::string chart_label(const BenchRow& r) {
  const std::string& f = r.model_filename;
  if (f.compare(0, 10, "synthetic:") == 0) return f.substr(10);
  const size_t slash = f.find_last_of('/');
  return slash == std::string::npos ? f : f.substr(slash + 1);
}

}  // namespace

Chart chart_from_rows(const std::vector<BenchRow>& rows, const std::string& cpu_info) {
  std::set<int> depths, threads;
  std::set<std::string> isas;
  for (const BenchRow& r : rows) {
    depths.insert(r.test.n_depth);
    threads.insert(r.n_threads);
    isas.insert(r.isa);
  }
  const bool by_depth = depths.size() > 1;
  const bool split_threads = by_depth && threads.size() > 1;

  Chart chart;
  std::string isa_text;
  for (const std::string& i : isas) isa_text += (isa_text.empty() ? "" : ", ") + i;
  chart.title = "loam bench: tokens/s on " + cpu_info + " (" + isa_text + ")";
  chart.x_label = by_depth ? "context depth (tokens)" : "threads";
  chart.y_label = "tokens/s";

  // Series in first-seen order; colour by model.
  std::map<std::string, size_t> series_index;
  std::map<std::string, int> model_color;
  // Model (and thread count) -> the generation test whose roofline is drawn: a tg64 and a tg128
  // would draw the same line.
  std::map<std::string, std::string> roofline_kind;
  std::string bandwidth_text;
  std::map<int, double> bw_by_threads;
  auto series_for = [&](const std::string& key, int color, bool dashed) -> ChartSeries& {
    auto it = series_index.find(key);
    if (it == series_index.end()) {
      ChartSeries s;
      s.label = key;
      s.color_group = color;
      s.dashed = dashed;
      chart.series.push_back(s);
      it = series_index.emplace(key, chart.series.size() - 1).first;
    }
    return chart.series[it->second];
  };
  for (const BenchRow& r : rows) {
    const std::string model = chart_label(r);
    const int color = model_color.emplace(model, static_cast<int>(model_color.size())).first->second;
    const std::string suffix =
        split_threads ? ", " + std::to_string(r.n_threads) + (r.n_threads == 1 ? " thread" : " threads") : "";
    const double x = by_depth ? r.test.n_depth : r.n_threads;
    const double y = r.avg_ts();
    series_for(model + " " + r.test.kind() + suffix, color, false).points.push_back({x, y});
    if (r.read_bw_gbs > 0) bw_by_threads[r.n_threads] = r.read_bw_gbs;
    if (r.test.n_prompt == 0 && r.test.n_gen > 0 && r.roofline_ts() > 0) {
      const std::string& kind = roofline_kind.emplace(model + suffix, r.test.kind()).first->second;
      if (kind == r.test.kind()) {
        series_for(model + " decode limit from bandwidth" + suffix, color, true)
            .points.push_back({x, r.roofline_ts()});
      }
    }
  }
  for (const auto& tb : bw_by_threads) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f GB/s with %d thread%s", tb.second, tb.first, tb.first == 1 ? "" : "s");
    bandwidth_text += (bandwidth_text.empty() ? "" : ", ") + std::string(buf);
  }
  chart.subtitle = bandwidth_text.empty()
                       ? "dashed: the decode rate the read bandwidth allows"
                       : "read bandwidth " + bandwidth_text + "; dashed: the decode rate it allows";
  chart.log_y = chart_wants_log_y(chart);
  return chart;
}

std::string render_chart(const std::vector<BenchRow>& rows, const std::string& cpu_info) {
  return render_svg(chart_from_rows(rows, cpu_info));
}

}  // namespace loam::bench
