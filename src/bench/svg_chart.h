// The chart that `loam bench --svg FILE` writes: tokens/s against thread count or context depth,
// one line per (model, weight type, test), with dashed "roofline" limits, as a standalone SVG
// document written by hand (no library beyond the C++ standard one).
#pragma once

#include <string>
#include <vector>

namespace loam::bench {

struct ChartPoint {
  double x = 0;
  double y = 0;
};

struct ChartSeries {
  std::string label;    // legend text, e.g. "tinyllama-1.1b Q4_0 tg128"; any UTF-8
  int color_group = 0;  // series of one group share a colour (a model+type's pp, tg, roofline)
  bool dashed = false;  // limit lines (roofline): dashed, no point markers
  std::vector<ChartPoint> points;  // any order; drawn sorted by x
};

struct Chart {
  std::string title;     // e.g. "loam bench: tokens/s on AMD EPYC (avx512), 2 threads"
  std::string subtitle;  // e.g. "read bandwidth 38.2 GB/s; dashed: decode limit from bandwidth"
  std::string x_label;   // "threads" or "context depth (tokens)"
  std::string y_label;   // "tokens/s"
  // Logarithmic y axis; the caller decides (chart_wants_log_y() is the suggested rule).
  bool log_y = false;
  std::vector<ChartSeries> series;
};

// A complete standalone SVG document (XML declaration first), 900 px wide and 560 px high; taller
// when many series push the legend below the plot.
//
// What is drawn, and what is skipped:
// - Points with a non-finite coordinate or a magnitude above 1e15 are skipped, and so are points
//   with y < 1e-15 (zero or negative rates included) on a log axis; a point skipped for its y
//   breaks the series' line there. A series left without points still gets its legend entry.
// - Linear y axes always include 0; the x axis spans the data (the thread counts or depths),
//   with integer ticks when every x is an integer, and a range around a single x value.
// - One colour per color_group (10 colours, then they repeat); a group's solid series alternate
//   circle and square markers, so its pp and tg lines differ.
// - A dashed series with a single point is drawn as a short horizontal dash at its value.
// - With nothing to draw (no series, or no usable point) the plot area says "no data".
// - The legend sits right of the plot when every entry fits there, else below it in columns.
// - Title and subtitle wrap onto a second line; text that still does not fit (a long legend
//   label) is cut with an ellipsis, the full text kept in data-label and a <title> tooltip.
//
// Machine-readable structure, for tests and scripts:
//   <g class="series" data-label="LABEL" data-dashed="true|false" data-color-group="N">
//     <polyline class="line" points="x,y x,y ..."/>   one per unbroken run of two or more points
//     <circle|rect class="marker" data-x="X" data-y="Y">   one per point of a solid series
//   </g>
//   <g class="legend-entry" data-label="LABEL"> swatch + <text> </g>
//   tick labels: <text class="tick-x"> and <text class="tick-y">; the frame: <rect class="frame">
std::string render_svg(const Chart& chart);

// The suggested rule for Chart::log_y: true when the positive finite y values of all series
// span more than a factor of 20 (prompt and generation rates together usually do).
bool chart_wants_log_y(const Chart& chart);

}  // namespace loam::bench
