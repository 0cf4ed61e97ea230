#include "reports/result_set.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/core/error.h"

namespace fs = std::filesystem;

namespace qbench::report {

ResultFile load_result_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open result file");
  std::stringstream ss;
  ss << in.rdbuf();
  ResultFile f{path, nlohmann::json::parse(ss.str(), nullptr, false)};
  if (f.j.is_discarded()) throw Error(path + ": not valid JSON");
  if (!f.j.is_object() || f.j.value("schema", "") != "qbench.result")
    throw Error(path + ": not a qbench result (schema is not \"qbench.result\")");
  if (f.j.value("schema_version", 0) != 1)
    throw Error(path + ": unsupported result schema_version (this qbench reads version 1)");
  if (!f.j["model"].is_object() || !f.j["workload"].is_object() || !f.j["workload"]["workload"].is_string())
    throw Error(path + ": result lacks model or workload sections");
  return f;
}

std::vector<ResultFile> load_results(const std::vector<std::string>& paths) {
  std::vector<ResultFile> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!it->is_regular_file() || it->path().extension() != ".json") continue;
        if (name.size() > 11 && name.ends_with(".error.json")) continue;
        found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      for (const auto& f : found) {
        try {
          out.push_back(load_result_file(f));
        } catch (const Error&) {
          // Directories hold manifests, reports and specs too: only results count.
        }
      }
    } else if (fs::exists(p, ec)) {
      out.push_back(load_result_file(p));
    } else {
      throw Error(p + ": no such result file or directory");
    }
  }
  return out;
}

const nlohmann::json& json_at(const nlohmann::json& j, const char* k) {
  static const nlohmann::json null_json;
  if (!j.is_object()) return null_json;
  auto it = j.find(k);
  return it == j.end() ? null_json : *it;
}

std::string json_str(const nlohmann::json& j, const char* k, const std::string& def) {
  const auto& v = json_at(j, k);
  return v.is_string() ? v.get<std::string>() : def;
}

double json_num(const nlohmann::json& j, const char* k, double def) {
  const auto& v = json_at(j, k);
  return v.is_number() ? v.get<double>() : def;
}

bool json_has_num(const nlohmann::json& j, const char* k) { return json_at(j, k).is_number(); }

CellKey cell_key_of(const nlohmann::json& r) {
  const auto& m = json_at(r, "model");
  const auto& mx = json_at(r, "matrix");
  CellKey k;
  std::string path = json_str(m, "path", "?");
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  k.model = json_str(mx, "model", fs::path(path).filename().string());
  k.backend = json_str(m, "backend", "?");
  k.device = json_str(mx, "device", json_str(m, "device", "?"));
  const auto& w = json_at(r, "workload");
  std::string wl = json_str(w, "workload", "?");
  const auto& p = json_at(w, "params");
  if (wl == "latency" && p.is_object())
    wl += " p" + std::to_string(int64_t(json_num(p, "prompt_tokens", 0))) + " g" + std::to_string(int64_t(json_num(p, "gen_tokens", 0)));
  k.workload = json_str(mx, "workload", wl);
  return k;
}

std::map<CellKey, std::vector<const ResultFile*>> group_by_cell(const std::vector<ResultFile>& files) {
  std::map<CellKey, std::vector<const ResultFile*>> g;
  for (const auto& f : files) g[cell_key_of(f.j)].push_back(&f);
  return g;
}

bool backend_less(const std::string& a, const std::string& b) {
  auto rank = [](const std::string& s) { return s == "fp16" ? 0 : s == "bf16" ? 1 : 2; };
  if (rank(a) != rank(b)) return rank(a) < rank(b);
  return a < b;
}

}  // namespace qbench::report
