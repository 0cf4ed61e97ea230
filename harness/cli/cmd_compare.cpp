// qbench compare: the CI regression gate. Exit 0 = pass, 1 = regression,
// 2 = bad input or usage (so a broken gate is never mistaken for a pass or a regression).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "engines/core/error.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "reports/regression_gate.h"

namespace qbench::cli {

int cmd_compare(int argc, char** argv) {
  try {
    // --threshold may repeat: collect every occurrence before the generic parser.
    std::vector<std::string> thresholds;
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
      if (i >= 2 && !std::strcmp(argv[i], "--threshold")) {
        if (i + 1 >= argc) throw Error("option --threshold needs a value");
        thresholds.push_back(argv[++i]);
      } else if (i >= 2 && !std::strncmp(argv[i], "--threshold=", 12)) {
        thresholds.push_back(argv[i] + 12);
      } else {
        rest.push_back(argv[i]);
      }
    }
    Args a(int(rest.size()), rest.data(), 2, {"stat", "noise-sigmas", "out"}, {"fail-on-missing", "help"});
    if (a.flag("help") || a.positional().size() != 2) {
      std::puts(
          "qbench compare BASELINE CURRENT [--threshold metric=pct ...] [--stat median|p99] [--noise-sigmas 2]\n"
          "  [--fail-on-missing] [--out deltas.md]\n"
          "BASELINE and CURRENT are result files or directories of them. Exit 0: pass, 1: regression, 2: error.\n"
          "metrics: ttft_ms tpot_ms decode_tokens_per_s prefill_tokens_per_s memory_mb mmlu_accuracy perplexity\n"
          "         kl_mean top1_agreement");
      return a.flag("help") ? 0 : 2;
    }
    report::GateOptions o;
    for (const auto& t : thresholds) report::parse_threshold(t, o);
    const std::string stat = a.get("stat", "median");
    if (stat != "median" && stat != "p99") throw Error("--stat must be median or p99, got '" + stat + "'");
    o.p99 = stat == "p99";
    o.noise_sigmas = a.get_double("noise-sigmas", 2.0);
    if (!(o.noise_sigmas >= 0) || o.noise_sigmas > 100) throw Error("--noise-sigmas must be in [0, 100]");
    o.fail_on_missing = a.flag("fail-on-missing");
    const auto base_files = report::load_results({a.positional()[0]});
    const auto cur_files = report::load_results({a.positional()[1]});
    if (base_files.empty()) throw Error(a.positional()[0] + ": no result files");
    if (cur_files.empty()) throw Error(a.positional()[1] + ": no result files");
    const auto g = report::run_gate(report::all_cell_metrics(base_files), report::all_cell_metrics(cur_files), o);
    const std::string md = report::gate_markdown(g, o);
    std::fputs(md.c_str(), stdout);
    if (a.has("out")) write_file_atomic(a.get("out"), md);
    return g.passed ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qbench compare: error: %s\n", e.what());
    return 2;
  }
}

}  // namespace qbench::cli
