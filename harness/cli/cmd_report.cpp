// qbench report: result files (or directories of them) -> tables, charts, HTML.
#include <cstdio>

#include "engines/core/error.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "reports/report_writer.h"

namespace qbench::cli {

int cmd_report(int argc, char** argv) {
  Args a(argc, argv, 2, {"out", "lang", "prices", "png-size", "gnuplot"}, {"no-charts", "help"});
  if (a.flag("help") || a.positional().empty()) {
    std::puts(
        "qbench report RESULT.json|DIR... --out DIR [--lang en|zh] [--prices prices.json] [--no-charts]\n"
        "  [--png-size 960x600] [--gnuplot PATH]\n"
        "writes tradeoff.{md,csv,json}, report.md, cost.md (with --prices), charts/*.{png,svg}, index.html");
    return a.flag("help") ? 0 : 2;
  }
  report::ReportOptions o;
  o.out_dir = a.require("out");
  o.lang = report::parse_lang(a.get("lang", "en"));
  o.price_file = a.get("prices");
  o.charts = !a.flag("no-charts");
  o.gnuplot = a.get("gnuplot", "gnuplot");
  if (a.has("png-size")) {
    const std::string s = a.get("png-size");
    int w = 0, h = 0;
    char x = 0;
    if (std::sscanf(s.c_str(), "%d%c%d", &w, &x, &h) != 3 || x != 'x' || w < 100 || h < 100 || w > 10000 || h > 10000)
      throw Error("--png-size needs WIDTHxHEIGHT between 100 and 10000, got '" + s + "'");
    o.png_width = w;
    o.png_height = h;
  }
  const auto files = report::load_results(a.positional());
  const auto out = report::write_report(files, o);
  for (const auto& w : out.warnings) std::fprintf(stderr, "qbench report: warning: %s\n", w.c_str());
  std::fputs(out.markdown.c_str(), stdout);
  std::fprintf(stderr, "qbench report: %zu result files -> %s (%zu files written)\n", files.size(), o.out_dir.c_str(),
               out.written.size());
  return 0;
}

}  // namespace qbench::cli
