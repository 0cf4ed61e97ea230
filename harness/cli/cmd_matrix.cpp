// qbench matrix run SPEC.json: every cell of a run matrix, resumable, then the report.
#include <cstdio>
#include <filesystem>

#include "engines/core/error.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "harness/matrix/matrix_runner.h"
#include "reports/report_writer.h"

namespace qbench::cli {

int cmd_matrix(int argc, char** argv) {
  Args a(argc, argv, 2, {"out", "lang", "prices"}, {"resume", "force", "no-report", "no-charts", "quiet", "list", "help"});
  const auto& pos = a.positional();
  if (a.flag("help") || pos.size() != 2 || pos[0] != "run") {
    std::puts(
        "qbench matrix run SPEC.json [--resume | --force] [--out DIR] [--list] [--no-report] [--no-charts]\n"
        "  [--prices prices.json] [--lang en|zh] [--quiet]\n"
        "runs every (model x backend x device x workload x repetition) cell as a child `qbench run`;\n"
        "results in DIR/cells/<cell>.json, failures in DIR/cells/<cell>.error.json, then the report in DIR/report.\n"
        "exit 0: every cell has a result; 1: some cells failed (the rest are kept; --resume retries them).");
    return a.flag("help") ? 0 : 2;
  }
  auto spec = matrix::load_matrix_spec(pos[1]);
  if (a.has("out")) spec.output_dir = a.get("out");
  if (a.flag("resume") && a.flag("force")) throw Error("--resume and --force exclude each other");
  if (a.flag("list")) {
    for (const auto& c : matrix::enumerate_cells(spec)) std::printf("%s\t%s\n", c.id.c_str(), c.model_path.c_str());
    return 0;
  }
  matrix::RunOptions o;
  o.resume = a.flag("resume");
  o.force = a.flag("force");
  o.progress = !a.flag("quiet");
  const auto sum = matrix::run_matrix(spec, o);
  std::fprintf(stderr, "matrix %s: %d cells: %d run ok, %d failed, %d already done\n", spec.name.c_str(), sum.total, sum.ok,
               sum.failed, sum.skipped);
  write_json_atomic(spec.output_dir + "/matrix-status.json",
                    {{"matrix", spec.name}, {"total", sum.total}, {"ok", sum.ok}, {"failed", sum.failed},
                     {"skipped", sum.skipped}, {"failed_cells", sum.failed_ids}});
  if (!a.flag("no-report") && sum.total > sum.failed) {
    report::ReportOptions ro;
    ro.out_dir = spec.output_dir + "/report";
    ro.lang = report::parse_lang(a.get("lang", "en"));
    ro.price_file = a.get("prices", spec.prices);
    ro.charts = !a.flag("no-charts");
    const auto files = report::load_results({spec.output_dir + "/cells"});
    const auto out = report::write_report(files, ro);
    for (const auto& w : out.warnings) std::fprintf(stderr, "qbench report: warning: %s\n", w.c_str());
    std::fputs(out.markdown.c_str(), stdout);
    std::fprintf(stderr, "matrix %s: report in %s/index.html\n", spec.name.c_str(), ro.out_dir.c_str());
  }
  return sum.failed ? 1 : 0;
}

}  // namespace qbench::cli
