#pragma once
// Calibration: fit the planner's efficiency factors per device from measured
// qbench results (latency workload), then report how far the calibrated
// predictions land from each measurement.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engines/model/model_config.h"
#include "harness/plan/device_catalog.h"
#include "harness/plan/predictor.h"

namespace qbench::plan {

// What one result file says about a run.
struct MeasuredRun {
  std::string file;
  ModelConfig config;
  std::string backend, kv_type;
  DeviceSpec device;  // "cpu" (from a roofline) or a catalog GPU
  int64_t prompt_tokens = 0, gen_tokens = 0;
  double decode_tokens_per_s = 0;   // workload.summary.decode_tokens_per_s.p50
  double prefill_tokens_per_s = 0;  // workload.summary.prefill_tokens_per_s.p50 (0 if absent)
  // Context the decode steps see on average: the prompt plus half the generation.
  int64_t mean_decode_context() const { return prompt_tokens + gen_tokens / 2; }
};

// ModelConfig from its to_json() form (result files' model.config).
ModelConfig config_from_json(const nlohmann::json& j, const std::string& where);

// Reads a qbench result. CPU runs need a roofline: the result's own
// ("roofline" at the top level or under "system"), else `roofline` (bench_roofline --json).
MeasuredRun read_measured_run(const nlohmann::json& result, const std::string& where,
                              const std::vector<DeviceSpec>& catalog, const std::optional<nlohmann::json>& roofline);

struct CalibrationRow {
  std::string file, backend, model;  // model: "h896-l24" style shape tag
  int64_t context = 0;
  double measured_decode = 0, predicted_decode = 0, decode_error_pct = 0;
  double measured_prefill = 0, predicted_prefill = 0, prefill_error_pct = 0;  // 0 when not measured
  nlohmann::json to_json() const;
};

struct DeviceCalibration {
  DeviceSpec device;
  Efficiency efficiency;  // fitted
  std::vector<CalibrationRow> rows;
  double max_abs_decode_error_pct = 0;
  // Runs predicted with the fitted factors but not used to fit them (validate()).
  std::vector<CalibrationRow> held_out;
  double max_abs_held_out_decode_error_pct = 0;
  nlohmann::json to_json() const;
};

// Groups runs by device (id, and for CPUs the model name) and fits per device:
// decode seconds per token = bytes / (e_bw x bandwidth) + layers x per-layer overhead, and
// prefill seconds = FLOPs / (e_c x matmul rate) + TTFT overhead (fit_time_model);
// then predicts every run back through the planner with the fitted factors.
std::vector<DeviceCalibration> calibrate(const std::vector<MeasuredRun>& runs);

// One run predicted through the planner with the given factors, next to its measurement.
CalibrationRow predict_run(const MeasuredRun& m, const Efficiency& eff);

// Predicts runs that took no part in the fit (e.g. quantized formats against a
// fit on FP16) with their device's fitted factors; a run on a device without a
// fit is an error.
void validate(std::vector<DeviceCalibration>& cal, const std::vector<MeasuredRun>& held_out);

// Time model t = a*x + b (x: seconds at full device speed, b >= 0: fixed
// overhead) fitted by least squares on relative error; with one run, or when
// the best b would be negative, b = 0 and a comes from fit_relative.
struct TimeFit {
  double a = 1, b = 0;
};
TimeFit fit_time_model(const std::vector<double>& x, const std::vector<double>& t);

// Least-squares factor k minimising sum((k*r_i - m_i)/m_i)^2: k = sum(r/m) / sum((r/m)^2).
double fit_relative(const std::vector<double>& roofline, const std::vector<double>& measured);

}  // namespace qbench::plan
