// qbench plan: will model M fit on device G with backend B, and how fast, at what cost?
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/model/memory_model.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "harness/plan/calibration.h"
#include "harness/plan/model_source.h"
#include "harness/plan/plan_report.h"

namespace qbench::cli {

namespace {

using nlohmann::json;

const char* kHelp =
    "qbench plan --model M [--backends fp16,gguf-q4_k_m,...] [--gpus t4,h100,...|all|cpu]\n"
    "  [--context 4096] [--batch 1] [--prompt-tokens 512] [--kv-type f16|f32|bf16|q8_0|q4_0] [--reserve-mib N]\n"
    "  [--prices FILE] [--gpus-file FILE] [--roofline FILE] [--calibrate RESULT.json [RESULT.json ...]]\n"
    "  [--validate RESULT.json,...] [--calibration-out FILE] [--json | --markdown]\n"
    "M: a catalog name (qwen2.5-0.5b ... qwen2.5-72b, llama-3-8b, llama-3-70b) or an HF config.json / checkpoint dir.\n"
    "'cpu' as a device uses the measured roofline from --roofline (bench_roofline --json FILE).\n"
    "--calibrate fits the efficiency factors per device from qbench latency results and prints predicted vs measured;\n"
    "--validate predicts further results with those factors without fitting on them (held-out check).";

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');)
    if (!t.empty()) out.push_back(t);
  return out;
}

// A price keyed by the device id ("h100"), by its name, by the NVML name
// result files report ("NVIDIA H100 80GB HBM3" contains the catalog's match
// "H100"), or by "cpu" for the CPU (prices/example.json uses the latter two).
std::optional<plan::Price> price_for(const std::map<std::string, plan::Price>& prices, const plan::DeviceSpec& d) {
  for (const std::string& key : {d.id, d.name})
    if (auto it = prices.find(key); it != prices.end()) return it->second;
  if (d.is_cpu) return std::nullopt;
  for (auto& [key, p] : prices)
    if (!d.match.empty() && key.find(d.match) != std::string::npos) return p;
  return std::nullopt;
}

}  // namespace

int cmd_plan(int argc, char** argv) {
  Args a(argc, argv, 2,
         {"model", "backends", "gpus", "context", "batch", "prompt-tokens", "kv-type", "reserve-mib", "prices", "gpus-file",
          "roofline", "calibrate", "validate", "calibration-out"},
         {"json", "markdown", "help"});
  if (a.flag("help")) {
    std::puts(kHelp);
    return 0;
  }
  using namespace qbench::plan;
  PlanReport rep;
  rep.model = a.require("model");
  rep.config = resolve_model_config(rep.model);
  rep.params.context = a.get_int("context", 4096);
  rep.params.batch = a.get_int("batch", 1);
  rep.params.prompt_tokens = a.get_int("prompt-tokens", 512);
  rep.params.kv_type = a.get("kv-type", "f16");
  if (a.has("reserve-mib")) {
    const int64_t mib = a.get_int("reserve-mib", 0);
    if (mib < 0 || mib > (int64_t(1) << 30)) throw Error("--reserve-mib must be between 0 and 2^30");
    rep.params.reserve_bytes = mib << 20;
  }
  rep.params.validate();
  kv_bytes_per_token(rep.config, rep.params.kv_type);  // reject unknown KV types before any output

  std::vector<DeviceSpec> catalog = load_gpu_catalog(default_gpu_catalog_path());
  if (a.has("gpus-file")) merge_catalog(catalog, load_gpu_catalog(a.get("gpus-file")));
  std::optional<json> roofline;
  if (a.has("roofline")) roofline = read_json(a.get("roofline"));

  // Calibration first: fitted factors replace the defaults of the devices they cover.
  std::vector<std::string> cal_files;
  if (a.has("calibrate")) {
    cal_files = split(a.get("calibrate"));
    for (auto& p : a.positional()) cal_files.push_back(p);
  } else if (!a.positional().empty()) {
    throw Error("unexpected argument '" + a.positional().front() + "'");
  }
  std::vector<MeasuredRun> runs;
  for (auto& f : cal_files) runs.push_back(read_measured_run(read_json(f), f, catalog, roofline));
  if (!runs.empty()) rep.calibration = calibrate(runs);
  if (a.has("validate")) {
    if (runs.empty()) throw Error("--validate needs --calibrate runs to fit the factors it checks");
    std::vector<MeasuredRun> held;
    for (auto& f : split(a.get("validate"))) held.push_back(read_measured_run(read_json(f), f, catalog, roofline));
    validate(rep.calibration, held);
  }

  std::vector<std::string> backends = split(a.get("backends", "fp16,gguf-q8_0,gguf-q5_k_s,gguf-q4_k_m,gptq-int4,awq-int4"));
  std::vector<std::string> ids;
  const std::string gpus = a.get("gpus", "all");
  if (gpus == "all") for (auto& d : catalog) ids.push_back(d.id);
  else ids = split(gpus);
  std::map<std::string, Price> prices;
  if (a.has("prices")) prices = parse_prices(read_json(a.get("prices")), a.get("prices"));

  for (const std::string& id : ids) {
    DeviceSpec dev;
    if (id == "cpu") {
      if (!roofline) throw Error("device 'cpu' needs --roofline FILE (bench_roofline --json FILE measures it)");
      dev = cpu_device_from_roofline(*roofline, 0, a.get("roofline"));
    } else {
      dev = find_device(catalog, id);
    }
    Efficiency eff = Efficiency::defaults_for(dev);
    for (auto& c : rep.calibration)
      if (c.device.id == dev.id) eff = c.efficiency;
    for (const std::string& b : backends) {
      PlanRow row{predict(rep.config, b, dev, rep.params, eff), std::nullopt};
      row.price = price_for(prices, dev);
      rep.rows.push_back(row);
    }
  }

  if (a.has("calibration-out")) {
    json cj = json::array();
    for (auto& c : rep.calibration) cj.push_back(c.to_json());
    write_json_atomic(a.get("calibration-out"), cj);
  }
  if (a.flag("json")) {
    std::cout << plan_rows_json(rep).dump(2) << "\n";
    if (!rep.calibration.empty()) std::cerr << format_calibration(rep.calibration, false);
  } else {
    const bool md = a.flag("markdown");
    if (!rep.calibration.empty()) std::cout << format_calibration(rep.calibration, md);
    std::cout << (md ? format_plan_markdown(rep) : format_plan_table(rep));
  }
  return 0;
}

}  // namespace qbench::cli
