#pragma once
// `qbench report`: result files in, a report directory out — the trade-off
// table (Markdown, CSV, JSON), cost efficiency and recommendations when a
// price file is given, gnuplot charts (PNG + SVG) when gnuplot is installed,
// and one self-contained HTML page. Tables are always written.
#include <string>
#include <vector>

#include "reports/labels.h"
#include "reports/result_set.h"

namespace qbench::report {

struct ReportOptions {
  std::string out_dir;
  Lang lang = Lang::en;
  std::string price_file;   // empty: no cost section
  bool charts = true;
  int png_width = 960, png_height = 600;
  std::string gnuplot = "gnuplot";  // binary to run
};

struct ReportOutput {
  std::vector<std::string> written;   // paths
  std::vector<std::string> warnings;  // e.g. gnuplot missing
  std::string markdown;               // report.md contents
};

ReportOutput write_report(const std::vector<ResultFile>& files, const ReportOptions& o);

}  // namespace qbench::report
