#include "reports/metric_catalog.h"

namespace qbench::report {

const std::vector<MetricDef>& metric_catalog() {
  // Latency gates at 10 %: run-to-run noise on shared CI machines is several
  // percent. Memory and accuracy are (nearly) deterministic: tight gates.
  static const std::vector<MetricDef> c = {
      {"ttft_ms", "ms", true, 10.0, 1},
      {"tpot_ms", "ms", true, 10.0, 2},
      {"decode_tokens_per_s", "tokens/s", false, 10.0, 2},
      {"prefill_tokens_per_s", "tokens/s", false, 10.0, 1},
      {"memory_mb", "MB", true, 2.0, 1},
      {"mmlu_accuracy", "%", false, 2.0, 2},
      {"perplexity", "", true, 2.0, 3},
      {"kl_mean", "", true, 10.0, 5},
      {"top1_agreement", "%", false, 2.0, 2},
  };
  return c;
}

const MetricDef* find_metric(const std::string& name) {
  for (const auto& m : metric_catalog())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace qbench::report
