#include "harness/plan/device_catalog.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"

namespace qbench::plan {

using nlohmann::json;

json DeviceSpec::to_json() const {
  return {{"id", id},       {"name", name},   {"is_cpu", is_cpu},   {"memory_bytes", memory_bytes},
          {"bandwidth_gbs", bandwidth_gbs}, {"matmul_tflops", matmul_tflops}, {"int8_tops", int8_tops},
          {"sm_count", sm_count}, {"source", source}};
}

namespace {

double positive(const json& e, const char* key, const std::string& where) {
  if (!e.contains(key) || !e[key].is_number()) throw Error(where + ": '" + key + "' is missing or not a number");
  const double v = e[key].get<double>();
  if (!(v > 0) || v > 1e9) throw Error(where + ": '" + key + "' must be a positive number (got " + e[key].dump() + ")");
  return v;
}

std::string text(const json& e, const char* key, const std::string& where, bool required) {
  if (!e.contains(key)) {
    if (required) throw Error(where + ": '" + key + "' is missing");
    return "";
  }
  if (!e[key].is_string()) throw Error(where + ": '" + key + "' must be a string");
  return e[key].get<std::string>();
}

json read_json_file(const std::string& path) {
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

}  // namespace

std::vector<DeviceSpec> parse_gpu_catalog(const json& doc, const std::string& where) {
  if (!doc.is_object() || !doc.contains("gpus") || !doc["gpus"].is_array())
    throw Error(where + ": a GPU catalog is an object with a \"gpus\" array");
  std::vector<DeviceSpec> out;
  for (size_t i = 0; i < doc["gpus"].size(); ++i) {
    const json& e = doc["gpus"][i];
    const std::string w = where + ": gpus[" + std::to_string(i) + "]";
    if (!e.is_object()) throw Error(w + " is not an object");
    DeviceSpec d;
    d.id = text(e, "id", w, true);
    if (d.id.empty() || d.id == "cpu") throw Error(w + ": id must be non-empty and not 'cpu'");
    d.name = text(e, "name", w, true);
    d.match = text(e, "match", w, false);
    d.source = text(e, "source", w, false);
    const double gib = positive(e, "memory_gib", w);
    if (gib > 1e6) throw Error(w + ": memory_gib is implausibly large");
    double usable = 1.0;  // GDDR6 ECC takes 1/16 of the capacity where it is on
    if (e.contains("ecc_reserved_fraction")) {
      if (!e["ecc_reserved_fraction"].is_number()) throw Error(w + ": ecc_reserved_fraction must be a number");
      const double f = e["ecc_reserved_fraction"].get<double>();
      if (!(f >= 0 && f < 1)) throw Error(w + ": ecc_reserved_fraction must be in [0, 1)");
      usable = 1.0 - f;
    }
    d.memory_bytes = uint64_t(gib * usable * 1073741824.0);
    d.bandwidth_gbs = positive(e, "bandwidth_gbs", w);
    d.matmul_tflops = positive(e, "fp16_tensor_tflops", w);
    if (e.contains("int8_tensor_tops")) d.int8_tops = positive(e, "int8_tensor_tops", w);
    if (e.contains("sm_count")) d.sm_count = int(positive(e, "sm_count", w));
    for (auto& prev : out)
      if (prev.id == d.id) throw Error(w + ": duplicate id '" + d.id + "'");
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<DeviceSpec> load_gpu_catalog(const std::string& path) { return parse_gpu_catalog(read_json_file(path), path); }

std::string default_gpu_catalog_path() {
  if (const char* p = std::getenv("QBENCH_GPU_CATALOG"); p && *p) return p;
#ifdef QBENCH_SOURCE_DIR
  return std::string(QBENCH_SOURCE_DIR) + "/data/gpus.json";
#else
  return "data/gpus.json";
#endif
}

void merge_catalog(std::vector<DeviceSpec>& base, const std::vector<DeviceSpec>& extra) {
  for (const DeviceSpec& d : extra) {
    bool replaced = false;
    for (auto& b : base)
      if (b.id == d.id) b = d, replaced = true;
    if (!replaced) base.push_back(d);
  }
}

const DeviceSpec& find_device(const std::vector<DeviceSpec>& catalog, const std::string& id) {
  for (auto& d : catalog)
    if (d.id == id) return d;
  std::string list;
  for (auto& d : catalog) list += (list.empty() ? "" : ", ") + d.id;
  throw Error("unknown device '" + id + "' (known: " + list + "; 'cpu' with --roofline; add GPUs with --gpus-file)");
}

DeviceSpec cpu_device_from_roofline(const json& doc, int threads, const std::string& where) {
  const json* rows = nullptr;
  if (doc.is_object() && doc.contains("rooflines") && doc["rooflines"].is_array()) rows = &doc["rooflines"];
  json single = json::array();
  if (!rows) {
    if (doc.is_object() && doc.contains("read_bandwidth_gbs")) single.push_back(doc);
    else throw Error(where + ": no roofline here (expected bench_roofline --json output with a \"rooflines\" array)");
    rows = &single;
  }
  const json* best = nullptr;
  for (const json& r : *rows) {
    if (!r.is_object() || !r.contains("threads") || !r["threads"].is_number_integer()) continue;
    const int t = r["threads"].get<int>();
    if (threads > 0 ? t == threads : (!best || t > (*best)["threads"].get<int>())) best = &r;
  }
  if (!best)
    throw Error(where + ": no roofline row for " + (threads > 0 ? std::to_string(threads) + " threads" : std::string("any thread count")));
  DeviceSpec d;
  d.id = "cpu";
  d.is_cpu = true;
  d.bandwidth_gbs = positive(*best, "read_bandwidth_gbs", where);
  d.matmul_tflops = positive(*best, "fp32_gemm_gflops", where) / 1000.0;
  const json sys = doc.is_object() && doc.contains("system") ? doc["system"] : json::object();
  d.name = sys.contains("cpu") && sys["cpu"].is_object() && sys["cpu"].contains("model") && sys["cpu"]["model"].is_string()
               ? sys["cpu"]["model"].get<std::string>()
               : "CPU";
  if (sys.contains("memory_bytes") && sys["memory_bytes"].is_number_unsigned()) d.memory_bytes = sys["memory_bytes"].get<uint64_t>();
  d.source = where + " (measured: " + std::to_string((*best)["threads"].get<int>()) + " threads)";
  return d;
}

}  // namespace qbench::plan
