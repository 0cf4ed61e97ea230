#pragma once
// The product: one row per (model, backend, device, latency setting) with
// memory, TTFT, decode speed, and the accuracy results of the same
// (model, backend, device) joined in, plus the accuracy drop vs FP16.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/cell_metrics.h"
#include "reports/labels.h"

namespace qbench::report {

struct TradeoffRow {
  CellMetrics m;                      // latency cell with the accuracy cells' stats merged in
  std::optional<double> mmlu_drop_pp; // baseline accuracy minus this one, percentage points
  std::string baseline_backend;       // what the drop is measured against
};

std::vector<TradeoffRow> build_tradeoff(const std::vector<CellMetrics>& cells);

// "12.3 ± 0.4", "12.3" (one sample or no spread) or "–".
std::string format_stat(const std::optional<Stat>& s, int decimals);

std::string tradeoff_markdown(const std::vector<TradeoffRow>& rows, Lang lang);
std::string tradeoff_csv(const std::vector<TradeoffRow>& rows);
nlohmann::json tradeoff_json(const std::vector<TradeoffRow>& rows);

// Helpers shared by the other renderers.
std::optional<Stat> row_stat(const TradeoffRow& r, const std::string& metric);
std::string md_escape(const std::string& s);

}  // namespace qbench::report
