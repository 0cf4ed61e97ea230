#pragma once
// The planner's output: rows of (device, backend) predictions with costs when
// prices are known, as a terminal table, Markdown or JSON (a list of rows).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "harness/plan/calibration.h"
#include "harness/plan/predictor.h"

namespace qbench::plan {

struct Price {
  double per_hour = 0;
  std::string currency = "USD";
};
// {"devices": {"h100": {"price_per_hour": 2.5, "currency": "USD"}, ...}}; `where` names the file in errors.
std::map<std::string, Price> parse_prices(const nlohmann::json& doc, const std::string& where);

struct PlanRow {
  Prediction p;
  std::optional<Price> price;
  // At the batch's aggregate decode rate, the device rented by the hour.
  double cost_per_million_tokens() const;
  nlohmann::json to_json() const;
};

struct PlanReport {
  std::string model;  // what --model named
  ModelConfig config;
  PlanParams params;
  std::vector<PlanRow> rows;
  std::vector<DeviceCalibration> calibration;
};

std::string format_plan_table(const PlanReport& r);
std::string format_plan_markdown(const PlanReport& r);
nlohmann::json plan_rows_json(const PlanReport& r);  // a list of rows
std::string format_calibration(const std::vector<DeviceCalibration>& c, bool markdown);

}  // namespace qbench::plan
