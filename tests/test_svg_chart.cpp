// The bench chart (src/bench/svg_chart): first the test's own XML well-formedness checker on
// hand-written good and bad documents, then render_svg's documents parsed with it: well-formed
// for every edge case, the series and legend entries present with their labels, dashed limit
// lines, y drawn upwards, nice and log ticks, numbers free of the locale, the legend off the plot.
#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <limits>
#include <locale>
#include <set>
#include <string>
#include <vector>

#include "bench/svg_chart.h"
#include "harness/test.h"
#include "xml_check.h"

using loam::bench::Chart;
using loam::bench::ChartPoint;
using loam::bench::ChartSeries;
using xml_check::Element;

namespace {

// ---- the checker ----------------------------------------------------------------------------

const char* const kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

bool well_formed(const std::string& body) { return xml_check::parse(kDecl + body).ok; }

// ---- reading the rendered document ------------------------------------------------------------

// A number as the chart writes coordinates: -?digits(.digits)? with at most `max_decimals`
// decimals. Parsed by hand: strtod would follow the C locale that one test changes.
bool plain_number(const std::string& s, double& out, size_t max_decimals = 2) {
  size_t i = 0;
  const bool neg = i < s.size() && s[i] == '-';
  if (neg) ++i;
  double v = 0;
  size_t digits = 0, decimals = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) v = v * 10 + (s[i] - '0');
  if (i < s.size() && s[i] == '.') {
    double scale = 1;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++decimals)
      v += (s[i] - '0') * (scale /= 10);
    if (decimals == 0) return false;
  }
  out = neg ? -v : v;
  return digits > 0 && i == s.size() && decimals <= max_decimals;
}

// A tick label: a plain number or mantissa "e" exponent ("1e-14").
bool tick_number(const std::string& s, double& out) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return plain_number(s, out, 9);
  double m = 0, exponent = 0;
  if (!plain_number(s.substr(0, e), m, 9) || !plain_number(s.substr(e + 1), exponent, 0))
    return false;
  out = m * std::pow(10.0, exponent);
  return true;
}

std::vector<std::string> tokens(const std::string& s, const std::string& separators) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (separators.find(c) != std::string::npos) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

double number_attr(const Element& e, const std::string& key) {
  double v = std::numeric_limits<double>::quiet_NaN();
  const std::string* s = e.attribute(key);
  if (s == nullptr || !plain_number(*s, v)) {
    ::loam_test::record_failure(__FILE__, __LINE__,
                                "attribute " + key + " of <" + e.name + "> not a plain number");
  }
  return v;
}

using xml_check::with_class;

// Every geometric attribute is a plain number with at most 2 decimals.
void check_numbers(const Element& root) {
  static const std::set<std::string> kNumeric = {
      "x", "y",     "x1",     "y1",        "x2",           "y2",     "cx",      "cy",
      "r", "width", "height", "font-size", "stroke-width", "points", "viewBox", "stroke-dasharray"};
  std::vector<const Element*> all;
  xml_check::find_all(root, "", all);
  for (const Element* e : all) {
    for (const auto& a : e->attributes) {
      std::string value = a.second;
      if (a.first == "transform") {  // rotate(-90 x y)
        if (value.rfind("rotate(", 0) != 0 || value.back() != ')') {
          ::loam_test::record_failure(__FILE__, __LINE__, "transform " + value);
          continue;
        }
        value = value.substr(7, value.size() - 8);
      } else if (kNumeric.count(a.first) == 0) {
        continue;
      }
      for (const std::string& t : tokens(value, " ,")) {
        double v;
        if (!plain_number(t, v))
          ::loam_test::record_failure(__FILE__, __LINE__, a.first + "=\"" + a.second + "\"");
      }
    }
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Box {
  double left, top, right, bottom;
};

Box frame_of(const Element& root) {
  const auto frames = with_class(root, "frame");
  REQUIRE(frames.size() == 1);
  const Element& f = *frames[0];
  const double x = number_attr(f, "x"), y = number_attr(f, "y");
  return {x, y, x + number_attr(f, "width"), y + number_attr(f, "height")};
}

// Renders `chart` and checks what every document must satisfy: well-formed, an <svg> root, no
// "nan" or "inf" anywhere (test labels avoid those letters), plain numbers, one series group and
// one legend entry per series, and legend text outside the plot frame and inside the canvas.
Element render_checked(const Chart& chart) {
  const std::string svg = loam::bench::render_svg(chart);
  const xml_check::Result r = xml_check::parse(svg);
  if (!r.ok) ::loam_test::record_failure(__FILE__, __LINE__, "not well-formed: " + r.error);
  REQUIRE(r.ok);
  REQUIRE(r.root.name == "svg");
  CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0) == 0);
  CHECK(lower(svg).find("nan") == std::string::npos);
  CHECK(lower(svg).find("inf") == std::string::npos);
  check_numbers(r.root);
  CHECK_EQ(with_class(r.root, "series").size(), chart.series.size());
  const auto legend = with_class(r.root, "legend-entry");
  CHECK_EQ(legend.size(), chart.series.size());
  const Box plot = frame_of(r.root);
  const double width = number_attr(r.root, "width"), height = number_attr(r.root, "height");
  for (const Element* entry : legend) {
    std::vector<const Element*> texts;
    xml_check::find_all(*entry, "text", texts);
    REQUIRE(texts.size() == 1);
    const double x = number_attr(*texts[0], "x"), y = number_attr(*texts[0], "y");
    CHECK(x > plot.right || y - 12 > plot.bottom + 40);  // beside the plot, or below its x labels
    CHECK(x < width && y < height && x > 0 && y > 0);
  }
  return r.root;
}

struct Drawn {
  std::string label;
  bool dashed = false;
  std::string stroke;  // of the lines
  std::vector<std::vector<std::pair<double, double>>> lines;
  std::vector<std::pair<double, double>> markers;
  bool lines_dashed = true;  // every line has a dash array
  bool any_line_dashed = false;
};

std::vector<Drawn> drawn_series(const Element& root) {
  std::vector<Drawn> out;
  for (const Element* g : with_class(root, "series")) {
    Drawn d;
    d.label = g->attribute_or("data-label", "?");
    d.dashed = g->attribute_or("data-dashed", "?") == "true";
    for (const Element& c : g->children) {
      if (c.name == "polyline") {
        d.stroke = c.attribute_or("stroke", "");
        const bool dashed = c.attribute("stroke-dasharray") != nullptr;
        d.lines_dashed = d.lines_dashed && dashed;
        d.any_line_dashed = d.any_line_dashed || dashed;
        std::vector<std::pair<double, double>> pts;
        for (const std::string& p : tokens(c.attribute_or("points", ""), " ")) {
          const auto xy = tokens(p, ",");
          double x = 0, y = 0;
          CHECK(xy.size() == 2 && plain_number(xy[0], x) && plain_number(xy[1], y));
          pts.emplace_back(x, y);
        }
        d.lines.push_back(pts);
      } else if (xml_check::has_class(c, "marker")) {
        if (c.name == "circle")
          d.markers.emplace_back(number_attr(c, "cx"), number_attr(c, "cy"));
        else
          d.markers.emplace_back(0, 0);
      }
    }
    out.push_back(d);
  }
  return out;
}

const Drawn* find_series(const std::vector<Drawn>& all, const std::string& label) {
  for (const Drawn& d : all)
    if (d.label == label) return &d;
  return nullptr;
}

// Values of the labelled y ticks, bottom to top.
std::vector<double> y_tick_values(const Element& root) {
  std::vector<std::pair<double, double>> by_y;  // (svg y, value)
  for (const Element* t : with_class(root, "tick-y")) {
    double v = 0;
    CHECK(tick_number(t->all_text(), v));
    by_y.emplace_back(number_attr(*t, "y"), v);
  }
  std::sort(by_y.begin(), by_y.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<double> out;
  for (const auto& p : by_y) out.push_back(p.second);
  return out;
}

// 2 models x (pp512, tg128, tg128 roofline) against threads, as `loam bench -t 1,2,4,8` draws.
Chart threads_chart() {
  Chart c;
  c.title = "loam bench: tokens/s on a test CPU (avx2)";
  c.subtitle = "read bandwidth 38.2 GB/s; dashed: decode limit from bandwidth";
  c.x_label = "threads";
  c.y_label = "tokens/s";
  const double pp[2][4] = {{45, 88, 170, 320}, {38, 74, 140, 260}};
  const double tg[2][4] = {{9.5, 17.8, 29.0, 33.5}, {6.1, 11.5, 18.2, 20.4}};
  const char* models[2] = {"tinyllama-1.1b Q4_0", "llama-3.2-1b Q8_0"};
  const int threads[4] = {1, 2, 4, 8};
  for (int m = 0; m < 2; ++m) {
    ChartSeries a{std::string(models[m]) + " pp512", m, false, {}};
    ChartSeries b{std::string(models[m]) + " tg128", m, false, {}};
    ChartSeries roof{std::string(models[m]) + " tg128 roofline", m, true, {}};
    for (int i = 0; i < 4; ++i) {
      a.points.push_back({static_cast<double>(threads[i]), pp[m][i]});
      b.points.push_back({static_cast<double>(threads[i]), tg[m][i]});
      roof.points.push_back({static_cast<double>(threads[i]), 38.2 / (m == 0 ? 0.64 : 1.3)});
    }
    c.series.push_back(a);
    c.series.push_back(b);
    c.series.push_back(roof);
  }
  return c;
}

Chart one_series(std::vector<ChartPoint> points, bool log_y, bool dashed = false) {
  Chart c;
  c.title = "t";
  c.x_label = "threads";
  c.y_label = "tokens/s";
  c.log_y = log_y;
  c.series.push_back({"s", 0, dashed, std::move(points)});
  return c;
}

struct CommaDecimal : std::numpunct<char> {
  char do_decimal_point() const override { return ','; }
  char do_thousands_sep() const override { return '.'; }
  std::string do_grouping() const override { return "\3"; }
};

}  // namespace

// ---- the checker itself ----------------------------------------------------------------------

TEST_CASE("xml checker accepts well-formed documents") {
  CHECK(well_formed("<svg/>"));
  CHECK(well_formed(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" a='1' b = \"2\"><g><text>x</text></g></svg>"));
  CHECK(well_formed("<a>&amp; &lt; &gt; &quot; &apos; &#38; &#x3C; &#x1F600;</a>\n"));
  CHECK(
      well_formed("<!-- lead --><a><!-- c --><?pi data?><![CDATA[<&>]]>\xC3\xBC "
                  "\xE6\xA8\xA1</a><!-- tail -->"));
  CHECK(xml_check::parse("<?xml version=\"1.0\"?><r/>").ok);
  const xml_check::Result r =
      xml_check::parse(std::string(kDecl) + "<r k=\"a&lt;&amp;&gt;b\"><c>x&amp;y</c></r>");
  REQUIRE(r.ok);
  CHECK_EQ(r.root.attribute_or("k", ""), std::string("a<&>b"));
  REQUIRE(r.root.children.size() == 1);
  CHECK_EQ(r.root.children[0].text, std::string("x&y"));
}

TEST_CASE("xml checker rejects malformed documents") {
  CHECK(!xml_check::parse("<svg/>").ok);                            // no declaration
  CHECK(!xml_check::parse(" <?xml version=\"1.0\"?><svg/>").ok);    // declaration not first
  CHECK(!xml_check::parse("<?xml encoding=\"UTF-8\"?><svg/>").ok);  // no version
  CHECK(!well_formed(""));                                          // no root
  CHECK(!well_formed("<a><b></a></b>"));                            // crossed
  CHECK(!well_formed("<a><b></b>"));                                // unclosed
  CHECK(!well_formed("<a></b>"));                                   // mismatched
  CHECK(!well_formed("<a x=1/>"));                                  // unquoted
  CHECK(!well_formed("<a x=\"1/>"));                                // unterminated value
  CHECK(!well_formed("<a x=\"1\" x=\"2\"/>"));                      // duplicate attribute
  CHECK(!well_formed("<a x=\"1\"y=\"2\"/>"));                       // no space between
  CHECK(!well_formed("<a x=\"<\"/>"));                              // raw < in a value
  CHECK(!well_formed("<a>fish & chips</a>"));                       // raw &
  CHECK(!well_formed("<a>&nbsp;</a>"));                             // unknown entity
  CHECK(!well_formed("<a>&#0;</a>"));                               // reference to NUL
  CHECK(!well_formed("<a>&#xZZ;</a>"));                             // bad hex
  CHECK(!well_formed("<a>1 < 2</a>"));                              // raw <
  CHECK(!well_formed("<a>]]></a>"));                                // CDATA end in text
  CHECK(!well_formed("<a/><b/>"));                                  // two roots
  CHECK(!well_formed("<a/>text"));                                  // text after the root
  CHECK(!well_formed("text<a/>"));                                  // text before the root
  CHECK(!well_formed("<a>\xFF</a>"));                               // not UTF-8
  CHECK(!well_formed("<a>\xC0\xAF</a>"));                           // overlong UTF-8
  CHECK(!well_formed(std::string("<a>\x01</a>")));                  // control character
  CHECK(!well_formed("<a><!-- a -- b --></a>"));                    // -- in a comment
  CHECK(!well_formed("<1a/>"));                                     // bad name
  CHECK(!well_formed("<!DOCTYPE svg><svg/>"));                      // unsupported, reported
}

// ---- render_svg -------------------------------------------------------------------------------

TEST_CASE("svg chart: every series is drawn and listed in the legend") {
  const Chart chart = threads_chart();
  const Element root = render_checked(chart);
  const std::vector<Drawn> drawn = drawn_series(root);
  for (const ChartSeries& s : chart.series) {
    const Drawn* d = find_series(drawn, s.label);
    REQUIRE(d != nullptr);
    CHECK_EQ(d->dashed, s.dashed);
    REQUIRE(d->lines.size() == 1);
    CHECK_EQ(d->lines[0].size(), s.points.size());
    if (s.dashed) {
      CHECK(d->lines_dashed);
      CHECK(d->markers.empty());
    } else {
      CHECK(!d->any_line_dashed);
      CHECK_EQ(d->markers.size(), s.points.size());
    }
  }
  std::vector<std::string> legend;
  for (const Element* e : with_class(root, "legend-entry")) {
    legend.push_back(e->attribute_or("data-label", ""));
    std::vector<const Element*> lines;
    xml_check::find_all(*e, "line", lines);
    REQUIRE(lines.size() == 1);
    const bool dashed = lines[0]->attribute("stroke-dasharray") != nullptr;
    CHECK_EQ(dashed, legend.back().find("roofline") != std::string::npos);
    CHECK_EQ(e->all_text(), legend.back());  // short labels are shown whole
  }
  std::vector<std::string> expected;
  for (const ChartSeries& s : chart.series) expected.push_back(s.label);
  CHECK(legend == expected);  // the caller's order
  // A colour per group: pp, tg and roofline of one model alike, the two models apart.
  CHECK_EQ(find_series(drawn, "tinyllama-1.1b Q4_0 pp512")->stroke,
           find_series(drawn, "tinyllama-1.1b Q4_0 tg128 roofline")->stroke);
  CHECK_EQ(find_series(drawn, "tinyllama-1.1b Q4_0 tg128")->stroke,
           find_series(drawn, "tinyllama-1.1b Q4_0 pp512")->stroke);
  CHECK(find_series(drawn, "tinyllama-1.1b Q4_0 pp512")->stroke !=
        find_series(drawn, "llama-3.2-1b Q8_0 pp512")->stroke);
  CHECK(root.all_text().find("read bandwidth 38.2 GB/s") != std::string::npos);
  // The axis labels and the title.
  CHECK_EQ(with_class(root, "axis-label-x").at(0)->all_text(), std::string("threads"));
  CHECK_EQ(with_class(root, "axis-label-y").at(0)->all_text(), std::string("tokens/s"));
  CHECK_EQ(with_class(root, "title").at(0)->all_text(), chart.title);
}

TEST_CASE("svg chart: larger y is drawn higher, points in x order") {
  for (bool log_y : {false, true}) {
    // Given out of order: drawn sorted by x, so y rises along the line as x does.
    const Chart c = one_series({{4, 30}, {1, 10}, {8, 35}, {2, 18}}, log_y);
    const std::vector<Drawn> d = drawn_series(render_checked(c));
    REQUIRE(d.size() == 1 && d[0].lines.size() == 1);
    const auto& pts = d[0].lines[0];
    REQUIRE(pts.size() == 4);
    for (size_t i = 1; i < pts.size(); ++i) {
      CHECK(pts[i].first > pts[i - 1].first);
      CHECK(pts[i].second < pts[i - 1].second);  // SVG y grows downwards
    }
    REQUIRE(d[0].markers.size() == 4);
    CHECK(d[0].markers[0].second > d[0].markers[3].second);  // 10 below 35
  }
  // Across series too: pp (hundreds) above tg (tens) at every thread count.
  const std::vector<Drawn> d = drawn_series(render_checked(threads_chart()));
  const auto& pp = find_series(d, "tinyllama-1.1b Q4_0 pp512")->lines.at(0);
  const auto& tg = find_series(d, "tinyllama-1.1b Q4_0 tg128")->lines.at(0);
  for (size_t i = 0; i < pp.size(); ++i) {
    CHECK_NEAR(pp[i].first, tg[i].first, 1e-9);
    CHECK(pp[i].second < tg[i].second);
  }
}

TEST_CASE("svg chart: labels are escaped and any UTF-8 survives") {
  Chart c = threads_chart();
  c.title = "a <title> & \"quotes\" 'too'";
  c.series[0].label = "x <&> \"q\" 'a' y";
  c.series[1].label = "\xE6\xA8\xA1\xE5\x9E\x8B \xC3\xBC \xE2\x80\x94 7B";
  c.series[2].label = std::string("bad\xFF byte\x01 ctl\ttab\nline");
  const std::string svg = loam::bench::render_svg(c);
  CHECK(svg.find("data-label=\"x &lt;&amp;&gt; &quot;q&quot; &apos;a&apos; y\"") !=
        std::string::npos);
  const Element root = render_checked(c);
  const std::vector<Drawn> d = drawn_series(root);
  CHECK(find_series(d, "x <&> \"q\" 'a' y") != nullptr);
  CHECK(find_series(d, "\xE6\xA8\xA1\xE5\x9E\x8B \xC3\xBC \xE2\x80\x94 7B") != nullptr);
  // Bytes that are not UTF-8 and control characters become U+FFFD; tab and newline spaces.
  CHECK(find_series(d, "bad\xEF\xBF\xBD byte\xEF\xBF\xBD ctl tab line") != nullptr);
  std::set<std::string> legend_text;
  for (const Element* e : with_class(root, "legend-entry")) legend_text.insert(e->all_text());
  CHECK(legend_text.count("x <&> \"q\" 'a' y") == 1);
  CHECK(legend_text.count("\xE6\xA8\xA1\xE5\x9E\x8B \xC3\xBC \xE2\x80\x94 7B") == 1);
  CHECK_EQ(with_class(root, "title").at(0)->all_text(), c.title);
}

TEST_CASE("svg chart: linear ticks are 1-2-5 steps from zero, integers for threads") {
  const Element root = render_checked(threads_chart());
  const std::vector<double> y = y_tick_values(root);
  REQUIRE(y.size() >= 3);
  CHECK_EQ(y.front(), 0.0);
  CHECK(y.back() >= 320);
  const double step = y[1] - y[0];
  const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
  CHECK(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 ||
        std::fabs(mantissa - 5) < 1e-9);
  for (size_t i = 1; i < y.size(); ++i) CHECK_NEAR(y[i] - y[i - 1], step, 1e-9);
  const auto x = with_class(root, "tick-x");
  REQUIRE(x.size() >= 2);
  for (const Element* t : x) {
    double v;
    CHECK(plain_number(t->all_text(), v) && v == std::floor(v) && v >= 1 && v <= 8);
  }
  // Fractional rates get decimal ticks, written with '.'.
  const std::vector<double> small =
      y_tick_values(render_checked(one_series({{1, 0.3}, {2, 1.1}}, false)));
  REQUIRE(small.size() >= 3);
  CHECK(small[1] > 0 && small[1] < 1);
}

TEST_CASE("svg chart: log ticks are decades with 1-2-5 subdivisions") {
  Chart c = threads_chart();
  c.log_y = true;
  CHECK(loam::bench::chart_wants_log_y(c));
  const Element root = render_checked(c);
  std::set<double> values;
  for (double v : y_tick_values(root)) {
    REQUIRE(v > 0);
    const double decade = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
    const double m = v / decade;
    CHECK(std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 || std::fabs(m - 5) < 1e-9);
    values.insert(v);
  }
  CHECK(values.count(10) == 1 && values.count(100) == 1);
  CHECK(*values.begin() <= 6.1 && *values.rbegin() >= 320);
  // Major grid lines only at powers of ten.
  const auto majors = with_class(root, "major");
  CHECK(!majors.empty());
  std::vector<double> decade_ys;  // where the labels of powers of ten sit (baseline 0.35 em low)
  for (const Element* t : with_class(root, "tick-y")) {
    double v = 0;
    if (tick_number(t->all_text(), v) &&
        std::fabs(std::log10(v) - std::round(std::log10(v))) < 1e-9)
      decade_ys.push_back(number_attr(*t, "y") - 12 * 0.35);
  }
  for (const Element* g : majors) {
    const double y = number_attr(*g, "y1");
    CHECK(std::any_of(decade_ys.begin(), decade_ys.end(),
                      [&](double t) { return std::fabs(t - y) < 0.02; }));
  }
  // Eight decades: only the decades are labelled, every one a power of ten.
  for (double hi : {1e6, 1e12}) {
    const std::vector<double> wide =
        y_tick_values(render_checked(one_series({{1, 0.01}, {2, hi}}, true)));
    REQUIRE(wide.size() >= 3);
    CHECK(wide.size() <= 20);
    for (double v : wide) CHECK(std::fabs(std::log10(v) - std::round(std::log10(v))) < 1e-9);
  }
}

TEST_CASE(
    "svg chart: zero, negative and non-finite values are skipped where they cannot be drawn") {
  // Log scale: 0 and -2 are skipped and break the line; 5 stays as a lone marker.
  const Chart log_chart = one_series({{1, 0}, {2, 5}, {3, -2}, {4, 7}, {5, 9}}, true);
  auto d = drawn_series(render_checked(log_chart));
  REQUIRE(d.size() == 1);
  CHECK_EQ(d[0].markers.size(), size_t{3});
  REQUIRE(d[0].lines.size() == 1);
  CHECK_EQ(d[0].lines[0].size(), size_t{2});
  // Linear scale: zero and negative rates are drawn (the axis reaches below zero).
  d = drawn_series(render_checked(one_series({{1, 0}, {2, 5}, {3, -2}}, false)));
  CHECK_EQ(d[0].markers.size(), size_t{3});
  // NaN and infinities are skipped on either scale.
  const double nan = std::numeric_limits<double>::quiet_NaN(),
               inf = std::numeric_limits<double>::infinity();
  for (bool log_y : {false, true}) {
    d = drawn_series(render_checked(
        one_series({{1, 1}, {2, nan}, {3, 3}, {4, 4}, {inf, 5}, {5, -inf}, {nan, 1}}, log_y)));
    CHECK_EQ(d[0].markers.size(), size_t{3});
    REQUIRE(d[0].lines.size() == 1);
    CHECK_EQ(d[0].lines[0].size(), size_t{2});
  }
}

TEST_CASE("svg chart: edge cases give valid documents") {
  const double nan = std::numeric_limits<double>::quiet_NaN(),
               inf = std::numeric_limits<double>::infinity();
  std::vector<Chart> charts;
  charts.push_back(one_series({{4, 23.5}}, false));  // a single point
  charts.push_back(one_series({{4, 23.5}}, true));
  charts.push_back(one_series({{0, 23.5}}, false));                  // depth 0 alone
  charts.push_back(one_series({{4, 50}}, false, true));              // a lone limit
  charts.push_back(one_series({{1, 12}, {2, 12}, {4, 12}}, false));  // all equal
  charts.push_back(one_series({{1, 12}, {2, 12}, {4, 12}}, true));
  charts.push_back(one_series({{1, 100}, {2, 100}}, true));  // equal, a power of ten
  charts.push_back(one_series({{1, 0}, {2, 0}}, false));     // all zero
  charts.push_back(one_series({{1, 0}, {2, -3}}, true));     // nothing drawable on log
  charts.push_back(one_series({{1, -5}, {2, -3}}, false));   // all negative
  charts.push_back(one_series({}, false));                   // an empty series
  charts.push_back(one_series({{nan, nan}, {inf, 1}}, false));
  charts.push_back(one_series({{1, 1e300}, {2, -1e300}, {3, 1e-300}, {4, 5e-324}}, true));
  charts.push_back(one_series({{1, 1e14}, {2, 3e-14}}, true));
  charts.push_back(one_series({{1e14, 1}, {1e14 + 1, 2}}, false));  // a tiny x range far out
  charts.push_back(one_series({{1e9, 1}, {1e9 + 2, 2}}, false));
  charts.push_back(one_series({{1e15, 1}, {2e15, 2}}, false));  // beyond 1e15: skipped
  charts.push_back(one_series({{0.001, 1}, {0.0012, 2}}, false));
  charts.push_back(one_series({{-8, 1}, {-2, 2}}, false));
  Chart with_empty = threads_chart();
  with_empty.series.push_back({"no points", 7, false, {}});
  with_empty.series.push_back({"", -3, true, {{1, 5}}});  // no label, negative group
  charts.push_back(with_empty);
  Chart one_x = threads_chart();  // one thread count
  for (ChartSeries& s : one_x.series) s.points.resize(1);
  charts.push_back(one_x);
  Chart blank;  // no texts at all
  blank.series.push_back({"s", 0, false, {{1, 2}, {2, 3}}});
  charts.push_back(blank);
  for (const Chart& c : charts) render_checked(c);
  // Limits with one point each still show as a level dash.
  const std::vector<Drawn> d = drawn_series(render_checked(one_x));
  const Drawn* roof = find_series(d, "tinyllama-1.1b Q4_0 tg128 roofline");
  REQUIRE(roof != nullptr && roof->lines.size() == 1);
  CHECK(roof->lines[0].size() == 2 && roof->lines[0][0].second == roof->lines[0][1].second);
}

TEST_CASE("svg chart: no data says so") {
  for (bool with_series : {false, true}) {
    Chart c;
    c.title = "loam bench";
    if (with_series) c.series.push_back({"empty", 0, false, {}});
    const Element root = render_checked(c);
    const auto note = with_class(root, "no-data");
    REQUIRE(note.size() == 1);
    CHECK_EQ(note[0]->all_text(), std::string("no data"));
    CHECK(with_class(root, "tick-y").empty());
  }
  Chart c = threads_chart();
  CHECK(with_class(render_checked(c), "no-data").empty());
}

TEST_CASE("svg chart: many series wrap the palette and the legend moves below the plot") {
  Chart c = threads_chart();
  c.series.clear();
  c.log_y = true;
  for (int i = 0; i < 200; ++i) {
    ChartSeries s{"model-" + std::to_string(i) + " Q4_K tg128", i, i % 3 == 2, {}};
    for (int t = 1; t <= 8; t *= 2)
      s.points.push_back({static_cast<double>(t), (i + 1) * std::sqrt(t)});
    c.series.push_back(s);
  }
  const Element root = render_checked(c);  // legend entries all off the plot, inside the canvas
  const std::vector<Drawn> d = drawn_series(root);
  std::set<std::string> colours;
  for (const Drawn& s : d) colours.insert(s.stroke);
  CHECK(colours.size() >= 8 && colours.size() <= 12);
  CHECK_EQ(find_series(d, "model-0 Q4_K tg128")->stroke,
           find_series(d, "model-10 Q4_K tg128")->stroke);
  CHECK(number_attr(root, "height") > 560);  // grown for the legend rows
}

TEST_CASE("svg chart: long texts are cut to fit, in full in tooltips") {
  Chart c = threads_chart();
  c.title = std::string(300, 'W');
  c.series[0].label = "a label far too long for the legend column " + std::string(200, 'm');
  const Element root = render_checked(c);
  const std::string shown = with_class(root, "title").at(0)->all_text();
  CHECK(shown.size() < 300);
  CHECK(shown.size() >= 3 && shown.compare(shown.size() - 3, 3, "\xE2\x80\xA6") == 0);
  std::vector<const Element*> titles;
  xml_check::find_all(root, "title", titles);
  REQUIRE(!titles.empty());
  CHECK_EQ(titles[0]->all_text(), c.title);  // the document's <title>
  const Element* entry = with_class(root, "legend-entry").at(0);
  CHECK_EQ(entry->attribute_or("data-label", ""), c.series[0].label);
  CHECK(entry->all_text().find(c.series[0].label) != std::string::npos);  // in its <title>
}

TEST_CASE("svg chart: a long title wraps onto a second line, at a space") {
  Chart c = threads_chart();
  c.title =
      "loam bench: tokens/s on Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz (avx512, avx2), "
      "by thread count, with the decode rate the bandwidth allows";
  const Element root = render_checked(c);
  const auto lines = with_class(root, "title");
  REQUIRE(lines.size() == 2);
  CHECK_EQ(lines[0]->all_text() + " " + lines[1]->all_text(), c.title);
  CHECK(number_attr(*lines[1], "y") > number_attr(*lines[0], "y"));
  CHECK(number_attr(*with_class(root, "subtitle").at(0), "y") > number_attr(*lines[1], "y"));
  CHECK(frame_of(root).top > number_attr(*with_class(root, "subtitle").at(0), "y"));
}

TEST_CASE("svg chart: numbers do not follow the global locale") {
  Chart c = threads_chart();
  c.series.push_back({"fractions", 5, false, {{1, 0.25}, {2, 1.75}}});
  const std::string before = loam::bench::render_svg(c);
  const std::locale old =
      std::locale::global(std::locale(std::locale::classic(), new CommaDecimal));
  // A comma-decimal C locale too, where one is installed (often none is, in containers).
  const bool c_locale = std::setlocale(LC_ALL, "de_DE.UTF-8") != nullptr ||
                        std::setlocale(LC_ALL, "fr_FR.UTF-8") != nullptr;
  const std::string after = loam::bench::render_svg(c);
  std::setlocale(LC_ALL, "C");
  std::locale::global(old);
  if (!c_locale)
    std::fprintf(stderr, "  note: no comma-decimal C locale installed; C++ locale only\n");
  CHECK(before == after);
  render_checked(c);  // plain numbers: '.' decimals, no grouping
}

TEST_CASE("svg chart: the log-scale suggestion") {
  CHECK(loam::bench::chart_wants_log_y(threads_chart()));  // 6.1 to 320
  CHECK(!loam::bench::chart_wants_log_y(one_series({{1, 10}, {2, 150}}, false)));
  CHECK(loam::bench::chart_wants_log_y(one_series({{1, 10}, {2, 250}, {3, 0}, {4, -1}}, false)));
  CHECK(!loam::bench::chart_wants_log_y(Chart{}));
}
