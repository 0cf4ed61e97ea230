#pragma once
// Result files as reports see them: each file is validated (schema, version)
// and tagged with the cell it measures: (model, backend, device, workload).
// Repetitions of a cell (several files) are grouped together.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench::report {

struct CellKey {
  std::string model;     // matrix label, else the model path's last component
  std::string backend;   // fp16, gguf-q4_k_m, ...
  std::string device;    // cpu, cuda, ...
  std::string workload;  // matrix workload name, else e.g. "latency p512 g256", "mmlu"
  auto operator<=>(const CellKey&) const = default;
  std::string to_string() const { return model + " / " + backend + " / " + device + " / " + workload; }
};

struct ResultFile {
  std::string path;
  nlohmann::json j;
};

// Throws qbench::Error naming the file when it is not a qbench result.
ResultFile load_result_file(const std::string& path);

// Files and directories (searched recursively for *.json that are qbench
// results; *.error.json cell failures and non-result JSON are skipped).
std::vector<ResultFile> load_results(const std::vector<std::string>& paths);

CellKey cell_key_of(const nlohmann::json& result);

// Typed reads that tolerate absent or wrongly typed fields (results come from
// other versions and other tools): the default instead of an exception.
const nlohmann::json& json_at(const nlohmann::json& j, const char* key);  // null when absent
std::string json_str(const nlohmann::json& j, const char* key, const std::string& def);
double json_num(const nlohmann::json& j, const char* key, double def);
bool json_has_num(const nlohmann::json& j, const char* key);

std::map<CellKey, std::vector<const ResultFile*>> group_by_cell(const std::vector<ResultFile>& files);

// Backends sort fp16/bf16 first (the baselines), then by name.
bool backend_less(const std::string& a, const std::string& b);

}  // namespace qbench::report
