#pragma once
// Everything reports need from the result files of one cell, with the
// repetitions pooled: per-run samples from every file form one distribution.
// Missing sections (an accuracy workload that was not run) stay absent.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reports/result_set.h"
#include "reports/sample_stats.h"

namespace qbench::report {

struct MemoryBreakdown {
  double weights = 0, kv_cache = 0, activations = 0, total = 0;  // bytes, peak over files
};

struct CellMetrics {
  CellKey key;
  std::string format, weight_dtype;
  std::string device_name;  // GPU name or CPU model: what a price file names
  int prompt_tokens = 0, gen_tokens = 0;
  int files = 0;
  std::map<std::string, Stat> stats;                  // metric_catalog() names
  std::map<std::string, std::vector<double>> samples; // per-run ttft_ms, tpot_ms (charts)
  std::optional<MemoryBreakdown> memory;
  std::optional<std::pair<double, double>> mmlu_ci95; // percent
  std::optional<double> kl_median, kl_p99;
  std::vector<std::pair<double, double>> concurrency;  // (concurrency, output tokens/s)
};

CellMetrics cell_metrics(const CellKey& key, const std::vector<const ResultFile*>& files);

std::vector<CellMetrics> all_cell_metrics(const std::vector<ResultFile>& files);

}  // namespace qbench::report
