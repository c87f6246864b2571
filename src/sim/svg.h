// A small SVG line-plot writer for simulation reports: axes with ticks,
// labels, a legend and a credit line. No dependencies; output is plain SVG
// 1.1 that browsers and docs render as is.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kojo {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  bool step = false;  // draw as a step function (CDFs)
  bool markers = false;  // a dot at each point (scatter plots; one-point series)
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::string credit;     // source line at the bottom (trace credit)
  bool log_x = false;     // logarithmic x axis (x <= 0 points are dropped)
  // Axis ranges; min == max means "from the data".
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
  std::vector<PlotSeries> series;
};

// The whole SVG document.
std::string RenderSvg(const LinePlot& plot);

// Empirical CDF of `values` as a step series (x = value, y = fraction <= x),
// thinned to at most `max_points` points.
PlotSeries CdfSeries(std::string name, std::vector<double> values, int max_points = 400);

// Escapes &, <, >, " for SVG text.
std::string XmlEscape(const std::string& s);

}  // namespace kojo
