#include "reports/report_writer.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include "engines/core/error.h"
#include "reports/cell_metrics.h"
#include "reports/cost_efficiency.h"
#include "reports/gnuplot_charts.h"
#include "reports/html_page.h"
#include "reports/tradeoff_table.h"

namespace qbench::report {

namespace {

// Atomic like harness/measure/atomic_file (reports do not link the harness):
// write a temporary file beside the target, then rename it over.
void write_text(const std::filesystem::path& p, const std::string& s, ReportOutput& out) {
  std::filesystem::create_directories(p.parent_path());
  const auto tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(tmp + ": cannot write");
    f << s;
    if (!f.flush()) throw Error(tmp + ": write failed");
  }
  std::filesystem::rename(tmp, p);
  out.written.push_back(p.string());
}

}  // namespace

ReportOutput write_report(const std::vector<ResultFile>& files, const ReportOptions& o) {
  if (files.empty()) throw Error("report: no result files found");
  // Read the price file first: a bad one fails before anything is written.
  std::optional<PriceTable> prices;
  if (!o.price_file.empty()) prices = load_price_file(o.price_file);
  ReportOutput out;
  const std::filesystem::path dir(o.out_dir);
  const auto rows = build_tradeoff(all_cell_metrics(files));
  const std::string table = tradeoff_markdown(rows, o.lang);
  write_text(dir / "tradeoff.md", table, out);
  write_text(dir / "tradeoff.csv", tradeoff_csv(rows), out);
  write_text(dir / "tradeoff.json", tradeoff_json(rows).dump(2) + "\n", out);

  const auto costs = prices ? cost_rows(rows, *prices) : std::vector<CostRow>{};
  if (prices && costs.empty()) out.warnings.push_back(o.price_file + ": no entry matches any result's device");
  const auto recs = recommend(rows, costs, o.lang);
  std::string md = "# " + label("title", o.lang) + "\n\n" + table;
  if (!costs.empty()) {
    const std::string cm = cost_markdown(rows, costs, o.lang);
    write_text(dir / "cost.md", cm, out);
    md += "\n## " + label("cost_title", o.lang) + "\n\n" + cm;
  }
  md += "\n## " + label("recommend_title", o.lang) + "\n\n" + recommendations_markdown(rows, recs, o.lang);

  std::vector<Chart> charts;
  std::vector<std::string> notes;
  if (o.charts) {
    try {
      charts = draw_charts(rows, {(dir / "charts").string(), o.lang, o.png_width, o.png_height, o.gnuplot});
      if (!charts.empty()) md += "\n## " + label("charts_title", o.lang) + "\n\n";
      for (const auto& c : charts) {
        md += "![" + c.title + "](charts/" + c.name + ".svg)\n\n";
        out.written.push_back(c.png);
        out.written.push_back(c.svg);
      }
    } catch (const Error& e) {
      out.warnings.push_back(std::string("charts skipped: ") + e.what());
      notes.push_back(std::string("charts skipped: ") + e.what());
    }
  }
  out.markdown = md;
  write_text(dir / "report.md", md, out);
  HtmlInputs hi{&rows, &costs, &recs, &charts, notes, o.lang};
  write_text(dir / "index.html", html_page(hi), out);
  return out;
}

}  // namespace qbench::report
