#include "sim/svg.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kojo {

namespace {

constexpr double kWidth = 760, kHeight = 480;
constexpr double kLeft = 80, kRight = 200, kTop = 50, kBottom = 80;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// About five "nice" ticks (1, 2, 5 x 10^k) covering [lo, hi].
std::vector<double> NiceTicks(double lo, double hi) {
  std::vector<double> ticks;
  double span = hi - lo;
  if (!(span > 0)) return {lo};
  double raw = span / 5;
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) { step = m * mag; break; }
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

std::string TickLabel(double v) {
  double a = std::abs(v);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

}  // namespace

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

PlotSeries CdfSeries(std::string name, std::vector<double> values, int max_points) {
  PlotSeries s;
  s.name = std::move(name);
  s.step = true;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  if (n == 0) return s;
  const size_t stride = std::max<size_t>(1, n / static_cast<size_t>(std::max(1, max_points)));
  for (size_t i = 0; i < n; i += stride) {
    // last index with the same value, so the step reaches its full height
    size_t k = i;
    while (k + 1 < n && values[k + 1] == values[i]) ++k;
    s.points.emplace_back(values[i], static_cast<double>(k + 1) / static_cast<double>(n));
  }
  if (s.points.back().second < 1) s.points.emplace_back(values.back(), 1.0);
  return s;
}

std::string RenderSvg(const LinePlot& plot) {
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  double x0 = plot.x_min, x1 = plot.x_max, y0 = plot.y_min, y1 = plot.y_max;
  auto fx = [&](double x) { return plot.log_x ? std::log10(x) : x; };
  if (x0 == x1 || y0 == y1) {
    bool any = false;
    double ax = 0, bx = 0, ay = 0, by = 0;
    for (const auto& s : plot.series)
      for (auto [x, y] : s.points) {
        if (plot.log_x && !(x > 0)) continue;
        if (!std::isfinite(x) || !std::isfinite(y)) continue;
        if (!any) { ax = bx = x; ay = by = y; any = true; }
        ax = std::min(ax, x); bx = std::max(bx, x);
        ay = std::min(ay, y); by = std::max(by, y);
      }
    if (x0 == x1) { x0 = any ? ax : 0; x1 = any ? bx : 1; }
    if (y0 == y1) { y0 = any ? std::min(0.0, ay) : 0; y1 = any ? by : 1; }
  }
  if (plot.log_x) {
    x0 = std::pow(10, std::floor(std::log10(std::max(x0, 1e-9))));
    x1 = std::pow(10, std::ceil(std::log10(std::max(x1, x0 * 10))));
  }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  const double lx0 = fx(x0), lx1 = fx(x1);
  auto px = [&](double x) { return kLeft + (fx(x) - lx0) / (lx1 - lx0) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };

  std::string o;
  o += fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  o += fmt::format("<text x=\"{}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", kLeft,
                   XmlEscape(plot.title));
  // Grid and ticks.
  std::vector<double> xt;
  if (plot.log_x) {
    for (double v = x0; v <= x1 * 1.0001; v *= 10) xt.push_back(v);
  } else {
    xt = NiceTicks(x0, x1);
  }
  for (double v : xt) {
    double x = px(v);
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e0e0e0\"/>\n", x,
                     kTop, kTop + ph);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x, kTop + ph + 18,
                     TickLabel(v));
  }
  for (double v : NiceTicks(y0, y1)) {
    double y = py(v);
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e0e0e0\"/>\n",
                     kLeft, y, kLeft + pw);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, y + 4,
                     TickLabel(v));
  }
  // Axes and labels.
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n", kLeft,
                   kTop, pw, ph);
  o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", kLeft + pw / 2,
                   kTop + ph + 40, XmlEscape(plot.x_label));
  o += fmt::format(
      "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
      kLeft - 55, kTop + ph / 2, XmlEscape(plot.y_label));
  // Series.
  o += fmt::format("<clipPath id=\"plot\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n", kLeft,
                   kTop, pw, ph);
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& s = plot.series[i];
    const char* color = kColors[i % std::size(kColors)];
    std::string pts;
    double last_y = 0;
    bool first = true;
    for (auto [x, y] : s.points) {
      if (plot.log_x && !(x > 0)) continue;
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (s.step && !first) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(last_y));
      pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
      last_y = y;
      first = false;
    }
    o += fmt::format(
        "<polyline clip-path=\"url(#plot)\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" points=\"{}\"/>\n",
        color, pts);
    if (s.markers)
      for (auto [x, y] : s.points) {
        if ((plot.log_x && !(x > 0)) || !std::isfinite(x) || !std::isfinite(y)) continue;
        o += fmt::format("<circle clip-path=\"url(#plot)\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>\n",
                         px(x), py(y), color);
      }
    // Legend entry.
    double ly = kTop + 10 + 20 * static_cast<double>(i);
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"3\"/>\n",
                     kLeft + pw + 15, ly, kLeft + pw + 40, color);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", kLeft + pw + 46, ly + 4, XmlEscape(s.name));
  }
  if (!plot.credit.empty())
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" fill=\"#555\">{}</text>\n", 10, kHeight - 10,
                     XmlEscape(plot.credit));
  o += "</svg>\n";
  return o;
}

}  // namespace kojo
