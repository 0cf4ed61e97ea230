#include "reports/report_writer.h"

#include <filesystem>
#include <fstream>

#include "engines/core/error.h"
#include "reports/cell_metrics.h"
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
  ReportOutput out;
  const std::filesystem::path dir(o.out_dir);
  const auto cells = all_cell_metrics(files);
  const auto rows = build_tradeoff(cells);
  const std::string table = tradeoff_markdown(rows, o.lang);
  write_text(dir / "tradeoff.md", table, out);
  write_text(dir / "tradeoff.csv", tradeoff_csv(rows), out);
  write_text(dir / "tradeoff.json", tradeoff_json(rows).dump(2) + "\n", out);
  out.markdown = "# " + label("title", o.lang) + "\n\n" + table;
  write_text(dir / "report.md", out.markdown, out);
  return out;
}

}  // namespace qbench::report
