#pragma once
// Cost view for choosing hardware: a price file (device name -> price per hour
// and currency) turns measured speed into a cost-efficiency index (decode
// tokens/s per price unit per hour), cost per million output tokens and
// batch-1 requests/day capacity; plus scenario recommendations, each with the
// rule that picked it.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/labels.h"
#include "reports/tradeoff_table.h"

namespace qbench::report {

struct Price {
  double per_hour = 0;
  std::string currency;
};

struct PriceTable {
  std::map<std::string, Price> devices;  // GPU name / CPU model, or a device kind ("cpu", "cuda")
};

// Throws qbench::Error naming the file and entry on a malformed price file.
PriceTable load_price_file(const std::string& path);
PriceTable parse_price_table(const nlohmann::json& j, const std::string& where);

struct CostRow {
  size_t row = 0;               // index into the trade-off rows
  std::string price_key;        // which price-file entry matched
  Price price;
  std::optional<double> index;           // decode tokens/s per (price unit / hour)
  std::optional<double> cost_per_mtok;   // price units per 1e6 output tokens at batch 1
  std::optional<double> requests_per_day;  // sequential batch-1 requests of the row's prompt/gen lengths
};

// Rows without a matching price are left out. Lookup: device name, then device kind.
std::vector<CostRow> cost_rows(const std::vector<TradeoffRow>& rows, const PriceTable& prices);

// Median time for one whole request: TTFT + (gen - 1) x TPOT, in ms.
std::optional<double> request_latency_ms(const TradeoffRow& r);

struct Recommendation {
  std::string scenario;  // lowest_latency, smallest_memory, highest_fidelity, best_cost
  std::optional<size_t> row;
  std::string rule;      // why this row, in the report's language
};

std::vector<Recommendation> recommend(const std::vector<TradeoffRow>& rows, const std::vector<CostRow>& costs, Lang lang);

std::string cost_markdown(const std::vector<TradeoffRow>& rows, const std::vector<CostRow>& costs, Lang lang);
std::string recommendations_markdown(const std::vector<TradeoffRow>& rows, const std::vector<Recommendation>& recs, Lang lang);

// "qwen2.5-0.5b gguf-q4_k_m (cpu, latency-512-256)"
std::string row_name(const TradeoffRow& r);

}  // namespace qbench::report
