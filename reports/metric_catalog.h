#pragma once
// The metrics reports and the regression gate know: how each is named, which
// direction is better, and the default regression threshold (percent change).
#include <string>
#include <vector>

namespace qbench::report {

struct MetricDef {
  std::string name;        // key in CellMetrics::stats and in --threshold
  std::string unit;
  bool lower_is_better;
  double threshold_pct;    // default gate: worse by more than this fails (when beyond noise)
  int decimals;
};

const std::vector<MetricDef>& metric_catalog();
const MetricDef* find_metric(const std::string& name);  // nullptr when unknown

}  // namespace qbench::report
