#pragma once
// Charts of the trade-off table, drawn by the `gnuplot` binary from generated
// scripts and data files (kept beside the charts so a reader can restyle
// them): speed vs quality loss with the Pareto front, memory stacked bars,
// TTFT / TPOT distributions, throughput vs concurrency when measured.
// Each chart is written as PNG (pngcairo) and SVG.
#include <string>
#include <vector>

#include "reports/labels.h"
#include "reports/tradeoff_table.h"

namespace qbench::report {

struct Chart {
  std::string name;   // file stem: pareto, memory, ttft, tpot, concurrency
  std::string title;
  std::string png, svg;  // paths written
};

struct ChartOptions {
  std::string dir;  // charts and their data/scripts go here
  Lang lang = Lang::en;
  int width = 960, height = 600;
  std::string gnuplot = "gnuplot";
};

// True when `gnuplot --version` runs.
bool gnuplot_available(const std::string& gnuplot);

// Throws qbench::Error when gnuplot is missing or fails (the message says how
// to install it); the caller decides whether that is fatal.
std::vector<Chart> draw_charts(const std::vector<TradeoffRow>& rows, const ChartOptions& o);

// Indices of the rows on the Pareto front of (minimise x, maximise y).
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& xy);

}  // namespace qbench::report
