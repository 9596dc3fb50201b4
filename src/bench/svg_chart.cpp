#include "bench/svg_chart.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace loam::bench {

namespace {

constexpr double kWidth = 900;
constexpr double kBaseHeight = 560;
constexpr double kMargin = 16;
constexpr double kTitleSize = 18;
constexpr double kSubtitleSize = 13;
constexpr double kAxisLabelSize = 14;
constexpr double kTickSize = 12;
constexpr double kBoldWidth = 1.12;  // bold DejaVu Sans against regular, for width estimates
constexpr double kLegendSize = 12;
constexpr double kLegendRow = 18;
constexpr double kSwatchWidth = 28;
constexpr double kSwatchGap = 8;
// Wider labels than this move the legend below the plot so that the plot keeps ~500 px.
constexpr double kMaxRightLegendWidth = 300;
// Space under the plot for the x tick labels and the x axis label.
constexpr double kXAxisBand = 58;
// Markers at the first and last x stay clear of the frame.
constexpr double kXPad = 14;
// Beyond these the data cannot be tokens/s, threads or depths; they are skipped rather than let
// the axis arithmetic overflow.
constexpr double kMaxMagnitude = 1e15;
constexpr double kMinLogValue = 1e-15;
constexpr const char* kFontFamily = "DejaVu Sans, Arial, sans-serif";
constexpr const char* kEllipsis = "\xE2\x80\xA6";     // U+2026
constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD
// matplotlib's tab10: distinct hues, all dark enough for 2 px lines on white.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr int kMarkerShapes = 2;  // circle, square

// ---- text -----------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], with its code point in `cp`; 0 when the bytes
// there are not UTF-8 (overlong forms, surrogates and code points past U+10FFFF included).
int decode_utf8(const std::string& s, size_t i, uint32_t& cp) {
  static const uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  const int len = lead < 0x80       ? 1
                  : lead >> 5 == 6  ? 2
                  : lead >> 4 == 14 ? 3
                  : lead >> 3 == 30 ? 4
                                    : 0;
  if (len == 0 || i + len > s.size()) return 0;
  cp = len == 1 ? lead : lead & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    const unsigned char c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  const bool ok = cp >= kMinForLength[len] && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
  return ok ? len : 0;
}

// `s` as valid UTF-8 holding only characters XML 1.0 allows, on one line: a browser refuses the
// whole document over one bad byte or control character, so those become U+FFFD, and tabs and
// line breaks become spaces.
std::string clean_text(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const int len = decode_utf8(s, i, cp);
    if (len == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE ||
        cp == 0xFFFF) {
      out += kReplacement;
    } else if (cp < 0x20) {
      out += ' ';
    } else {
      out.append(s, i, len);
    }
    i += len == 0 ? 1 : len;
  }
  return out;
}

// Escapes the five XML specials, for text and for attribute values alike.
std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

// Approximate advance of one character in em, for DejaVu Sans (the widest of the listed fonts,
// so the estimate errs towards too wide).
double char_em(uint32_t cp) {
  if (cp >= 0x2E80) return 1.0;  // CJK and other full-width scripts
  if (cp >= 0x80) return 0.68;
  if (std::strchr(" iljtfr.,:;'|!()[]I", static_cast<int>(cp)) != nullptr) return 0.36;
  if (std::strchr("mwMW", static_cast<int>(cp)) != nullptr) return 0.92;
  return cp >= 'A' && cp <= 'Z' ? 0.74 : 0.64;
}

double text_width(const std::string& s, double font_size) {
  double width = 0;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0xFFFD;
    i += std::max(1, decode_utf8(s, i, cp));
    width += char_em(cp) * font_size;
  }
  return width;
}

// `s` (cleaned) cut at a character boundary, with an ellipsis, to fit `max_width` pixels.
std::string fit_text(const std::string& s, double font_size, double max_width) {
  const double budget = max_width - char_em(0x2026) * font_size;
  double width = 0;
  size_t fits = 0;  // the longest prefix that leaves room for the ellipsis
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0xFFFD;
    i += std::max(1, decode_utf8(s, i, cp));
    width += char_em(cp) * font_size;
    if (width <= budget) fits = i;
  }
  if (width <= max_width) return s;
  while (fits > 0 && s[fits - 1] == ' ') --fits;
  return s.substr(0, fits) + kEllipsis;
}

// `s` (cleaned) broken at spaces into at most `max_lines` lines of `max_width` pixels, the last
// one cut with an ellipsis if the text still does not fit (a CPU name can make a long title).
std::vector<std::string> wrap_text(const std::string& s, double font_size, double max_width,
                                   size_t max_lines) {
  std::vector<std::string> lines;
  for (size_t start = 0; start < s.size();) {
    size_t cut = std::string::npos;  // the last space that keeps this line within the width
    for (size_t sp = s.find(' ', start);
         sp != std::string::npos && text_width(s.substr(start, sp - start), font_size) <= max_width;
         sp = s.find(' ', sp + 1))
      cut = sp;
    if (lines.size() + 1 == max_lines || cut == std::string::npos ||
        text_width(s.substr(start), font_size) <= max_width) {
      lines.push_back(fit_text(s.substr(start), font_size, max_width));
      break;
    }
    lines.push_back(s.substr(start, cut - start));
    start = cut + 1;
  }
  return lines;
}

// ---- numbers (digits built by hand: printf and streams follow the global locale) -----------

std::string uint_text(unsigned long long v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// `v` with `decimals` (0..9) decimals; requires |v| * 10^decimals < 9e18.
std::string format_fixed(double v, int decimals, bool trim_zeros) {
  unsigned long long scale = 1;
  for (int k = 0; k < decimals; ++k) scale *= 10;
  const long long r = std::llround(v * static_cast<double>(scale));
  const unsigned long long a = r < 0 ? 0ull - static_cast<unsigned long long>(r) : r;
  std::string s = r < 0 ? "-" : "";
  s += uint_text(a / scale);
  if (decimals > 0) {
    std::string frac = uint_text(a % scale);
    frac.insert(0, decimals - frac.size(), '0');
    while (trim_zeros && !frac.empty() && frac.back() == '0') frac.pop_back();
    if (!frac.empty()) s += "." + frac;
  }
  return s;
}

// A coordinate: at most 2 decimals, which is below what a screen shows.
std::string coord(double v) { return format_fixed(std::clamp(v, -1e7, 1e7), 2, true); }

// A data value (|v| <= kMaxMagnitude) for tooltips and data- attributes.
std::string value_text(double v) { return format_fixed(v, 2, true); }

// ---- axes -----------------------------------------------------------------------------------

struct Tick {
  double value = 0;
  bool major = true, labelled = true;  // major: decades on a log axis, every linear tick
  std::string label;
};

struct Axis {
  double lo = 0, hi = 1;  // bounds; log10 of them on a log axis
  double step = 1;        // between linear ticks
  bool log = false;
  std::vector<Tick> ticks;

  // Position of `v` from lo (0) to hi (1).
  double fraction(double v) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo); }
};

// The smallest 1-2-5 step at least `raw`, so that an axis gets at most the intervals asked for
// (rounding to the nearest step gave 13 labels where 9 were asked).
double nice_step(double raw) {
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  return (norm <= 1 + 1e-9 ? 1 : norm <= 2 + 1e-9 ? 2 : norm <= 5 + 1e-9 ? 5 : 10) * mag;
}

// Ticks every nice step, about `target` intervals over [lo, hi] (lo <= hi, both finite). With
// `extend` the bounds move out to the ticks around the data (a y axis whose top is labelled);
// without, they stay at the data and only the ticks inside are kept (an x axis that ends at the
// last thread count rather than at the next round number).
Axis linear_axis(double lo, double hi, int target, bool integer_only, bool extend) {
  if (hi - lo <= std::max(std::fabs(lo), std::fabs(hi)) * 1e-9) {
    // One value: centre it in a range of its own size (the x of a single thread count).
    const double v = (lo + hi) / 2;
    const double half = v != 0 ? std::fabs(v) * 0.5 : 1;
    lo = v >= 0 ? std::max(0.0, v - half) : v - half;
    hi = v + half;
  }
  Axis axis;
  axis.step = nice_step((hi - lo) / std::max(1, target));
  if (integer_only) axis.step = std::max(1.0, std::round(axis.step));
  const double step = axis.step;
  // Tick k is k * step: no error accumulates, and 0 is exactly 0.
  long long k_lo =
      static_cast<long long>(extend ? std::floor(lo / step + 1e-9) : std::ceil(lo / step - 1e-9));
  long long k_hi =
      static_cast<long long>(extend ? std::ceil(hi / step - 1e-9) : std::floor(hi / step + 1e-9));
  if (extend && k_hi <= k_lo) k_hi = k_lo + 1;
  k_hi = std::min(k_hi, k_lo + 100);
  axis.lo = extend ? k_lo * step : lo;
  axis.hi = extend ? k_hi * step : hi;
  const int decimals =
      step >= 1 ? 0 : std::min(9, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  for (long long k = k_lo; k <= k_hi; ++k) {
    Tick t;
    t.value = static_cast<double>(k) * step;
    // In range for format_fixed: a step below 1 means a range below `target`, and below
    // 1e-9 of the values only with the one-value widening above.
    t.label = format_fixed(t.value, decimals, false);
    axis.ticks.push_back(t);
  }
  return axis;
}

// Linear ticks as dense as their labels allow: `min_spacing` pixels per label (its width on
// x, its height on y) over an axis `length` pixels long.
Axis linear_axis_fitting(double lo, double hi, double length, double min_spacing, bool integer_only,
                         bool horizontal) {
  Axis axis;
  for (int target = std::max(2, static_cast<int>(length / min_spacing)); target >= 2; --target) {
    axis = linear_axis(lo, hi, target, integer_only, !horizontal);
    double widest = 0;
    for (const Tick& t : axis.ticks) widest = std::max(widest, text_width(t.label, kTickSize));
    const double need = horizontal ? widest + 10 : kTickSize + 8;
    if (length * axis.step / (axis.hi - axis.lo) >= need) break;
  }
  return axis;
}

std::string log_tick_label(int mantissa, int exponent) {
  if (exponent >= 0 && exponent <= 6)
    return format_fixed(mantissa * std::pow(10.0, exponent), 0, true);
  if (exponent < 0 && exponent >= -6)
    return format_fixed(mantissa * std::pow(10.0, exponent), -exponent, true);
  return uint_text(mantissa) + "e" +
         (exponent < 0 ? "-" + uint_text(-exponent) : uint_text(exponent));
}

// Log axis over [vmin, vmax] (1e-15 <= vmin <= vmax <= 1e15), bounds on 1-2-5 values with some
// room beyond the data. Decades are major ticks; between them 2 and 5 (or 2..9 when a decade is
// tall enough) are minor ones, labelled only where the labels cannot collide.
Axis log_axis(double vmin, double vmax, double length) {
  const auto floor_125 = [](double v) {
    const double base = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {5.0, 2.0, 1.0})
      if (m * base <= v) return m * base;
    return base / 2;  // log10 rounded up
  };
  const auto ceil_125 = [](double v) {
    const double base = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (m * base >= v) return m * base;
    return base * 20;
  };
  Axis axis;
  axis.log = true;
  axis.lo = std::log10(floor_125(vmin / 1.1));
  axis.hi = std::log10(ceil_125(vmax * 1.1));
  const double px_per_decade = length / (axis.hi - axis.lo);
  // Decades at least ~22 px apart: on a wider range label every k-th decade.
  const int decade_step = std::max(1, static_cast<int>(std::ceil(22 / px_per_decade)));
  std::vector<int> minors;
  bool label_minors = false;
  if (decade_step == 1) {
    // The narrowest gap of 2..9 is 9 to 10 (0.046 decade); of 2 and 5, 5 to 10 (0.3 decade).
    if (px_per_decade * 0.046 >= kTickSize + 6) {
      minors = {2, 3, 4, 5, 6, 7, 8, 9};
      label_minors = true;
    } else if (px_per_decade >= 30) {
      minors = {2, 5};
      label_minors = px_per_decade * 0.3 >= kTickSize + 12;
    }
  }
  const int e_lo = static_cast<int>(std::floor(axis.lo + 1e-9));
  const int e_hi = static_cast<int>(std::ceil(axis.hi - 1e-9));
  for (int e = e_lo; e <= e_hi; ++e) {
    std::vector<int> mantissas;
    if (e % decade_step == 0) mantissas.push_back(1);
    mantissas.insert(mantissas.end(), minors.begin(), minors.end());
    for (int m : mantissas) {
      const double lv = e + std::log10(static_cast<double>(m));
      if (lv < axis.lo - 1e-9 || lv > axis.hi + 1e-9) continue;
      Tick t;
      t.value = m * std::pow(10.0, e);
      t.major = m == 1;
      t.labelled = t.major || label_minors;
      t.label = log_tick_label(m, e);
      axis.ticks.push_back(t);
    }
  }
  return axis;
}

// ---- data and layout -----------------------------------------------------------------------

struct Point {
  double x = 0, y = 0;
  bool drawable = false;  // false: a gap in the line
};

bool usable(double v) { return std::isfinite(v) && std::fabs(v) <= kMaxMagnitude; }

// The chart's texts made safe for XML, its points sorted by x per series (unusable y values kept
// as gaps), and the bounds of the drawable points.
struct Prepared {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> labels;
  std::vector<std::vector<Point>> points;
  std::vector<const char*> colors;
  std::vector<int> shapes;
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  bool integer_x = true;
  bool has_data() const { return x_min <= x_max; }
};

Prepared prepare(const Chart& chart) {
  Prepared d;
  d.title = clean_text(chart.title);
  d.subtitle = clean_text(chart.subtitle);
  d.x_label = clean_text(chart.x_label);
  d.y_label = clean_text(chart.y_label);
  for (const ChartSeries& s : chart.series) {
    d.labels.push_back(clean_text(s.label));
    std::vector<Point> pts;
    for (const ChartPoint& p : s.points) {
      if (!usable(p.x)) continue;  // no place on the x axis, not even for a gap
      const bool ok = usable(p.y) && (!chart.log_y || p.y >= kMinLogValue);
      pts.push_back({p.x, p.y, ok});
      if (!ok) continue;
      d.x_min = std::min(d.x_min, p.x);
      d.x_max = std::max(d.x_max, p.x);
      d.y_min = std::min(d.y_min, p.y);
      d.y_max = std::max(d.y_max, p.y);
      d.integer_x = d.integer_x && p.x == std::floor(p.x);
    }
    std::stable_sort(pts.begin(), pts.end(),
                     [](const Point& a, const Point& b) { return a.x < b.x; });
    d.points.push_back(std::move(pts));
    // The palette wraps; the k-th solid series of a colour group gets marker shape k (a group's
    // pp and tg lines differ by marker), shifted once per palette wrap.
    const long long group = s.color_group;
    d.colors.push_back(kPalette[(group % kPaletteSize + kPaletteSize) % kPaletteSize]);
    int k = 0;
    for (size_t j = 0; j + 1 < d.labels.size(); ++j)
      k += chart.series[j].color_group == s.color_group && !chart.series[j].dashed;
    d.shapes.push_back(
        static_cast<int>((k + (group % 1000000 + 1000000) / kPaletteSize) % kMarkerShapes));
  }
  return d;
}

struct HeadingLine {
  const char* cls;  // "title" or "subtitle"
  double y, size;
  std::string text;
};

// Where everything goes, and the axes.
struct Plot {
  std::vector<HeadingLine> heading;  // title and subtitle, up to two lines each
  double height = kBaseHeight;
  double left = 0, top = 0, right = 0, bottom = 0;  // the frame
  bool legend_right = true;
  double legend_x = 0, legend_y = 0, legend_column_width = 0, legend_label_width = 0;
  int legend_columns = 1;
  Axis x, y;

  double width() const { return right - left; }
  double px(double v) const { return left + kXPad + x.fraction(v) * (width() - 2 * kXPad); }
  double py(double v) const { return bottom - y.fraction(v) * (bottom - top); }
};

Plot plan(const Chart& chart, const Prepared& d) {
  // Vertical layout first, then the legend's place: beside the plot when every entry fits there.
  const size_t n = d.labels.size();
  Plot p;
  double y = 8;
  for (const std::string& line :
       wrap_text(d.title, kTitleSize * kBoldWidth, kWidth - 2 * kMargin, 2))
    p.heading.push_back({"title", y += kTitleSize + 4, kTitleSize, line});
  for (const std::string& line : wrap_text(d.subtitle, kSubtitleSize, kWidth - 2 * kMargin, 2))
    p.heading.push_back({"subtitle", y += kSubtitleSize + 5, kSubtitleSize, line});
  p.top = p.heading.empty() ? 20 : y + 18;
  p.bottom = kBaseHeight - kXAxisBand;
  double widest_label = 0;
  for (const std::string& l : d.labels)
    widest_label = std::max(widest_label, text_width(l, kLegendSize));
  const double overhead = kSwatchWidth + kSwatchGap;
  p.legend_right =
      n * kLegendRow <= p.bottom - p.top && overhead + widest_label <= kMaxRightLegendWidth;
  if (p.legend_right) {
    p.legend_label_width = widest_label;
    p.legend_column_width = overhead + widest_label;
  } else {
    // Below the plot, in as many columns as the widest label allows, wrapping into rows.
    const double available = kWidth - 2 * kMargin, gap = 18;
    p.legend_column_width = std::min(available, overhead + widest_label + gap);
    p.legend_columns =
        std::clamp(static_cast<int>(available / p.legend_column_width), 1, static_cast<int>(n));
    p.legend_label_width = p.legend_column_width - overhead - gap;
    p.bottom -= 8;
    p.legend_x = kMargin;
    p.legend_y = p.bottom + kXAxisBand + 8;
    p.height = p.legend_y +
               static_cast<double>((n + p.legend_columns - 1) / p.legend_columns) * kLegendRow + 8;
  }
  // The y axis, whose labels' width sets the left edge; then the x axis.
  const double plot_height = p.bottom - p.top;
  if (d.has_data() && chart.log_y) {
    p.y = log_axis(d.y_min, d.y_max, plot_height);
  } else if (d.has_data()) {
    // Rates read against zero; a little room beyond the extreme points.
    double lo = std::min(0.0, d.y_min), hi = std::max(0.0, d.y_max);
    if (hi == lo) hi = 1;
    const double room = (hi - lo) * 0.04;
    p.y = linear_axis_fitting(lo < 0 ? lo - room : lo, hi > 0 ? hi + room : hi, plot_height, 50,
                              false, false);
  }
  double widest_tick = 0;
  for (const Tick& t : p.y.ticks)
    if (t.labelled) widest_tick = std::max(widest_tick, text_width(t.label, kTickSize));
  p.left = kMargin + (d.y_label.empty() ? 0 : kAxisLabelSize + 10) + widest_tick + 10;
  p.right = kWidth - 28;  // room for half of the last x label
  if (p.legend_right && n > 0) {
    p.legend_x = kWidth - kMargin - p.legend_column_width;
    p.legend_y = p.top + 4;
    p.right = p.legend_x - 28;
  }
  if (d.has_data())
    p.x = linear_axis_fitting(d.x_min, d.x_max, p.width() - 2 * kXPad, 70, d.integer_x, true);
  return p;
}

// ---- writing ---------------------------------------------------------------------------------

std::string text_element(const std::string& cls, double x, double y, double size,
                         const char* anchor, const std::string& text, const std::string& extra) {
  return "<text class=\"" + cls + "\" x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" font-size=\"" +
         coord(size) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" + xml_escape(text) +
         "</text>\n";
}

std::string line_element(const char* cls, double x1, double y1, double x2, double y2,
                         const std::string& extra) {
  return "<line class=\"" + std::string(cls) + "\" x1=\"" + coord(x1) + "\" y1=\"" + coord(y1) +
         "\" x2=\"" + coord(x2) + "\" y2=\"" + coord(y2) + "\"" + extra + "/>\n";
}

// A point marker, with the caller's extra attributes and children (`inner`, may be empty).
std::string marker_element(int shape, double x, double y, const char* color,
                           const std::string& extra, const std::string& inner) {
  const std::string tag = shape == 1 ? "rect" : "circle";
  const std::string geometry =
      shape == 1
          ? "x=\"" + coord(x - 3.5) + "\" y=\"" + coord(y - 3.5) + "\" width=\"7\" height=\"7\""
          : "cx=\"" + coord(x) + "\" cy=\"" + coord(y) + "\" r=\"4\"";
  const std::string open = "<" + tag + " class=\"marker\" " + geometry + " fill=\"" + color +
                           "\" stroke=\"#ffffff\" stroke-width=\"1\"" + extra;
  return inner.empty() ? open + "/>" : open + ">" + inner + "</" + tag + ">";
}

std::string stroke_attributes(const char* color, bool dashed) {
  return std::string(" stroke=\"") + color + "\" stroke-width=\"" +
         (dashed ? "1.75\" stroke-dasharray=\"7 5\"" : "2\"");
}

void write_axes(std::string& o, const Plot& p, const Prepared& d) {
  o += "<g class=\"grid\" stroke-width=\"1\">\n";
  for (const Tick& t : p.y.ticks) {
    o += line_element(t.major ? "grid-y major" : "grid-y minor", p.left, p.py(t.value), p.right,
                      p.py(t.value), t.major ? " stroke=\"#d8d8d8\"" : " stroke=\"#efefef\"");
  }
  for (const Tick& t : p.x.ticks)
    o += line_element("grid-x", p.px(t.value), p.top, p.px(t.value), p.bottom,
                      " stroke=\"#e8e8e8\"");
  o += "</g>\n<rect class=\"frame\" x=\"" + coord(p.left) + "\" y=\"" + coord(p.top) +
       "\" width=\"" + coord(p.width()) + "\" height=\"" + coord(p.bottom - p.top) +
       "\" fill=\"none\" stroke=\"#888888\" stroke-width=\"1\"/>\n";
  o += "<g class=\"ticks\" fill=\"#333333\">\n";
  for (const Tick& t : p.y.ticks) {
    if (!t.labelled) continue;
    o += text_element("tick-y", p.left - 8, p.py(t.value) + kTickSize * 0.35, kTickSize, "end",
                      t.label, "");
  }
  for (const Tick& t : p.x.ticks)
    o += text_element("tick-x", p.px(t.value), p.bottom + 18, kTickSize, "middle", t.label, "");
  o += "</g>\n";
  const double mid_x = (p.left + p.right) / 2, mid_y = (p.top + p.bottom) / 2;
  if (!d.x_label.empty()) {
    o += text_element("axis-label-x", mid_x, p.bottom + 44, kAxisLabelSize, "middle",
                      fit_text(d.x_label, kAxisLabelSize, p.width()), " fill=\"#222222\"");
  }
  if (!d.y_label.empty()) {
    const double x = kMargin + kAxisLabelSize - 2;
    o += text_element(
        "axis-label-y", x, mid_y, kAxisLabelSize, "middle",
        fit_text(d.y_label, kAxisLabelSize, p.bottom - p.top),
        " fill=\"#222222\" transform=\"rotate(-90 " + coord(x) + " " + coord(mid_y) + ")\"");
  }
  if (!d.has_data())
    o += text_element("no-data", mid_x, mid_y, 16, "middle", "no data", " fill=\"#888888\"");
}

void write_series(std::string& o, const Plot& p, const Chart& chart, const Prepared& d) {
  // Limit lines first, so that measured lines and their markers lie on top of them.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const ChartSeries& s = chart.series[i];
      if (s.dashed != (pass == 0)) continue;
      const long long group = s.color_group;
      o += "<g class=\"series\" data-label=\"" + xml_escape(d.labels[i]) + "\" data-dashed=\"" +
           (s.dashed ? "true" : "false") + "\" data-color-group=\"" + (group < 0 ? "-" : "") +
           uint_text(static_cast<unsigned long long>(std::llabs(group))) + "\">\n";
      const std::vector<Point>& pts = d.points[i];
      for (size_t b = 0, e = 0; b < pts.size(); b = std::max(e, b + 1)) {
        for (e = b; e < pts.size() && pts[e].drawable;) ++e;  // [b, e): one unbroken run
        std::string line;
        for (size_t k = b; e - b >= 2 && k < e; ++k)
          line += (k > b ? " " : "") + coord(p.px(pts[k].x)) + "," + coord(p.py(pts[k].y));
        if (e - b == 1 && s.dashed) {
          // A lone limit value (one thread count): a short level dash, which a point would hide.
          const double x = p.px(pts[b].x), y = p.py(pts[b].y);
          line = coord(x - 24) + "," + coord(y) + " " + coord(x + 24) + "," + coord(y);
        }
        if (!line.empty()) {
          o += "<polyline class=\"line\" points=\"" + line + "\" fill=\"none\"" +
               stroke_attributes(d.colors[i], s.dashed) + " stroke-linejoin=\"round\"/>\n";
        }
      }
      for (const Point& pt : pts) {
        if (s.dashed || !pt.drawable) continue;
        const std::string tip = d.labels[i] + "\n" + (d.x_label.empty() ? "x" : d.x_label) + ": " +
                                value_text(pt.x) + "\n" + (d.y_label.empty() ? "y" : d.y_label) +
                                ": " + value_text(pt.y);
        o += marker_element(
                 d.shapes[i], p.px(pt.x), p.py(pt.y), d.colors[i],
                 " data-x=\"" + value_text(pt.x) + "\" data-y=\"" + value_text(pt.y) + "\"",
                 "<title>" + xml_escape(tip) + "</title>") +
             "\n";
      }
      o += "</g>\n";
    }
  }
}

void write_legend(std::string& o, const Plot& p, const Chart& chart, const Prepared& d) {
  o += "<g class=\"legend\" font-size=\"" + coord(kLegendSize) + "\" fill=\"#222222\">\n";
  for (size_t i = 0; i < d.labels.size(); ++i) {  // in the caller's order
    const size_t col = p.legend_right ? 0 : i % p.legend_columns;
    const size_t row = p.legend_right ? i : i / p.legend_columns;
    const double x = p.legend_x + col * p.legend_column_width;
    const double y = p.legend_y + row * kLegendRow + kLegendRow / 2;
    const std::string shown = fit_text(d.labels[i], kLegendSize, p.legend_label_width);
    o += "<g class=\"legend-entry\" data-label=\"" + xml_escape(d.labels[i]) + "\">";
    if (shown != d.labels[i]) o += "<title>" + xml_escape(d.labels[i]) + "</title>";
    o += "<line x1=\"" + coord(x) + "\" y1=\"" + coord(y) + "\" x2=\"" + coord(x + kSwatchWidth) +
         "\" y2=\"" + coord(y) + "\"" + stroke_attributes(d.colors[i], chart.series[i].dashed) +
         "/>";
    if (!chart.series[i].dashed)
      o += marker_element(d.shapes[i], x + kSwatchWidth / 2, y, d.colors[i], "", "");
    o += "<text x=\"" + coord(x + kSwatchWidth + kSwatchGap) + "\" y=\"" +
         coord(y + kLegendSize * 0.35) + "\">" + xml_escape(shown) + "</text></g>\n";
  }
  o += "</g>\n";
}

}  // namespace

bool chart_wants_log_y(const Chart& chart) {
  double lo = INFINITY, hi = 0;
  for (const ChartSeries& s : chart.series) {
    for (const ChartPoint& p : s.points) {
      if (!usable(p.y) || p.y < kMinLogValue) continue;
      lo = std::min(lo, p.y);
      hi = std::max(hi, p.y);
    }
  }
  return hi > 0 && hi / lo > 20;
}

std::string render_svg(const Chart& chart) {
  const Prepared d = prepare(chart);
  const Plot p = plan(chart, d);
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + coord(kWidth) + "\" height=\"" +
       coord(p.height) + "\" viewBox=\"0 0 " + coord(kWidth) + " " + coord(p.height) +
       "\" font-family=\"" + kFontFamily + "\">\n";
  if (!d.title.empty()) o += "<title>" + xml_escape(d.title) + "</title>\n";
  // Markers on the frame must not be cut in half: the clip reaches a few pixels beyond it.
  o += "<defs><clipPath id=\"loam-plot-area\"><rect x=\"" + coord(p.left - 6) + "\" y=\"" +
       coord(p.top - 6) + "\" width=\"" + coord(p.width() + 12) + "\" height=\"" +
       coord(p.bottom - p.top + 12) + "\"/></clipPath></defs>\n";
  o += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + coord(kWidth) + "\" height=\"" +
       coord(p.height) + "\" fill=\"#ffffff\"/>\n";
  for (const HeadingLine& h : p.heading) {
    const bool title = std::strcmp(h.cls, "title") == 0;
    o += text_element(h.cls, kMargin, h.y, h.size, "start", h.text,
                      title ? " font-weight=\"bold\" fill=\"#222222\"" : " fill=\"#555555\"");
  }
  write_axes(o, p, d);
  o += "<g class=\"plot\" clip-path=\"url(#loam-plot-area)\">\n";
  write_series(o, p, chart, d);
  o += "</g>\n";
  if (!chart.series.empty()) write_legend(o, p, chart, d);
  return o + "</svg>\n";
}

}  // namespace loam::bench
