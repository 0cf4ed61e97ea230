#pragma once
// A run matrix: models x backends x devices x workloads x repetitions, read
// from a JSON spec (docs/reports.md describes the format; specs/ ships the
// standard suites). Compiled from harness/cli/matrix_spec.cpp.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench::matrix {

struct ModelEntry {
  std::string name;
  std::string path;                            // used for every backend, unless
  std::map<std::string, std::string> paths;    // backend -> path (quantized files differ per backend)
};

struct WorkloadEntry {
  std::string name;      // cell label, e.g. "latency-512-256"
  std::string workload;  // qbench run --workload
  std::vector<std::pair<std::string, std::string>> args;  // extra "--key value" (value empty: flag)
};

struct MatrixSpec {
  std::string name;
  std::string output_dir;
  int repetitions = 1;
  int threads = 0;              // 0: qbench run's default
  std::string prices;           // optional price file for the report
  std::vector<ModelEntry> models;
  std::vector<std::string> backends, devices;
  std::vector<WorkloadEntry> workloads;
  nlohmann::json source;        // the spec as read
};

struct Cell {
  std::string id;  // file-name safe, unique
  std::string model, model_path, backend, device;
  const WorkloadEntry* workload = nullptr;
  int repetition = 1;
};

// Expands ${VAR} and ${VAR:-default} from the environment; throws on an unset
// variable without default.
std::string expand_env(const std::string& s, const std::string& where);

// Throws qbench::Error naming the file and the field on any problem.
MatrixSpec parse_matrix_spec(const nlohmann::json& j, const std::string& where);
MatrixSpec load_matrix_spec(const std::string& path);

// Every cell in run order; (model, backend) pairs without a path are left out.
std::vector<Cell> enumerate_cells(const MatrixSpec& s);

}  // namespace qbench::matrix
