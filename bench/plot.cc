// kojo_plot: a line plot (SVG) of whitespace-separated columns read from
// stdin, for the benchmarks' curves (bench/scale-curves.sh). The first
// column is x; each further column is one series, named by --series in
// order. Lines starting with '#' are skipped.
//
//   printf '1000 2.1\n10000 9.8\n' | kojo_plot --title T --x-label X --y-label Y --series "pass (ms)" --log-x > out.svg
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "sim/svg.h"

int main(int argc, char** argv) {
  kojo::LinePlot plot;
  std::vector<std::string> names;
  CLI::App app{"A line plot (SVG on stdout) of columns read from stdin: x, then one column per series"};
  app.add_option("--title", plot.title, "Title")->required();
  app.add_option("--x-label", plot.x_label, "The x axis");
  app.add_option("--y-label", plot.y_label, "The y axis");
  app.add_option("--series", names, "Each series' name, in column order")->required();
  app.add_option("--credit", plot.credit, "The line at the bottom (the source of the figures)");
  app.add_flag("--log-x", plot.log_x, "Logarithmic x axis");
  CLI11_PARSE(app, argc, argv);
  plot.y_min = 0;
  for (const auto& n : names) plot.series.push_back(kojo::PlotSeries{n, {}, false, true});
  std::string line;
  int row = 0;
  while (std::getline(std::cin, line)) {
    ++row;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    double x = 0;
    if (!(in >> x)) {
      std::fprintf(stderr, "kojo_plot: line %d: expected numbers, got \"%s\"\n", row, line.c_str());
      return 2;
    }
    for (auto& s : plot.series) {
      double y = 0;
      if (!(in >> y)) {
        std::fprintf(stderr, "kojo_plot: line %d: expected %zu values after x\n", row, names.size());
        return 2;
      }
      s.points.emplace_back(x, y);
    }
  }
  std::fputs(kojo::RenderSvg(plot).c_str(), stdout);
  return 0;
}
