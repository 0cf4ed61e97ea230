#pragma once
// Run-to-run comparison for CI: cells of a baseline and a current run are
// matched by (model, backend, device, workload); every metric both measured
// gets a delta, a direction (lower TTFT is better, higher tokens/s is better)
// and a verdict. A change fails the gate only when it is worse than the
// metric's threshold AND larger than the repetitions' noise.
#include <map>
#include <string>
#include <vector>

#include "reports/cell_metrics.h"

namespace qbench::report {

struct GateOptions {
  std::map<std::string, double> threshold_pct;  // overrides metric_catalog() defaults
  bool p99 = false;            // compare p99 of latency metrics instead of medians (noisy)
  double noise_sigmas = 2.0;   // how many standard errors of the difference count as noise
  bool fail_on_missing = false;  // a baseline cell absent from the current run fails the gate
};

// "ttft_ms=5" or "ttft_ms=5%"; throws qbench::Error on unknown metric or bad number.
void parse_threshold(const std::string& spec, GateOptions& o);

enum class Verdict { ok, improved, within_noise, regression };

struct MetricDelta {
  CellKey key;
  std::string metric;
  double baseline = 0, current = 0;
  double change_pct = 0;   // (current - baseline) / |baseline| * 100
  double worse_pct = 0;    // positive when current is worse
  double noise = 0;        // absolute noise band of the difference
  double threshold_pct = 0;
  bool lower_is_better = true;
  Verdict verdict = Verdict::ok;
};

struct GateResult {
  std::vector<MetricDelta> deltas;
  std::vector<CellKey> missing;  // in baseline, not in current
  std::vector<CellKey> extra;    // new in current
  int regressions = 0;
  bool passed = true;
};

GateResult run_gate(const std::vector<CellMetrics>& baseline, const std::vector<CellMetrics>& current, const GateOptions& o);

std::string gate_markdown(const GateResult& r, const GateOptions& o);

}  // namespace qbench::report
