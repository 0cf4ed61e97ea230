#include "harness/matrix/matrix_spec.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "engines/core/error.h"

namespace qbench::matrix {

std::string expand_env(const std::string& s, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$' || i + 1 >= s.size() || s[i + 1] != '{') {
      out += s[i];
      continue;
    }
    const size_t end = s.find('}', i + 2);
    if (end == std::string::npos) throw Error(where + ": unterminated ${ in '" + s + "'");
    std::string var = s.substr(i + 2, end - i - 2), def;
    bool has_def = false;
    if (auto p = var.find(":-"); p != std::string::npos) {
      def = var.substr(p + 2);
      var = var.substr(0, p);
      has_def = true;
    }
    const char* v = std::getenv(var.c_str());
    if (v && *v) out += v;
    else if (has_def) out += def;
    else throw Error(where + ": environment variable " + var + " is not set (in '" + s + "')");
    i = end;
  }
  return out;
}

namespace {

std::string req_string(const nlohmann::json& j, const char* k, const std::string& where) {
  if (!j.contains(k) || !j[k].is_string() || j[k].get<std::string>().empty())
    throw Error(where + ": \"" + k + "\" must be a non-empty string");
  return j[k].get<std::string>();
}

std::vector<std::string> string_list(const nlohmann::json& j, const char* k, const std::string& where) {
  if (!j.contains(k) || !j[k].is_array() || j[k].empty()) throw Error(where + ": \"" + k + "\" must be a non-empty list");
  std::vector<std::string> v;
  for (const auto& e : j[k]) {
    if (!e.is_string() || e.get<std::string>().empty()) throw Error(where + ": \"" + k + "\" entries must be non-empty strings");
    v.push_back(e.get<std::string>());
  }
  return v;
}

bool safe_name(const std::string& s) {
  for (char c : s)
    if (!(std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.')) return false;
  return !s.empty() && s[0] != '.';
}

}  // namespace

MatrixSpec parse_matrix_spec(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": a matrix spec is a JSON object");
  static const std::set<std::string> known = {"name",     "description", "output_dir", "repetitions", "threads",
                                              "prices",   "models",      "backends",   "devices",     "workloads"};
  for (const auto& [k, _] : j.items())
    if (!known.count(k)) throw Error(where + ": unknown field \"" + k + "\"");
  MatrixSpec s;
  s.source = j;
  s.name = req_string(j, "name", where);
  s.output_dir = expand_env(req_string(j, "output_dir", where), where);
  if (j.contains("repetitions")) {
    if (!j["repetitions"].is_number_integer() || j["repetitions"].get<int64_t>() < 1 || j["repetitions"].get<int64_t>() > 1000)
      throw Error(where + ": \"repetitions\" must be an integer in [1, 1000]");
    s.repetitions = j["repetitions"].get<int>();
  }
  if (j.contains("threads")) {
    if (!j["threads"].is_number_integer() || j["threads"].get<int64_t>() < 0 || j["threads"].get<int64_t>() > 4096)
      throw Error(where + ": \"threads\" must be an integer in [0, 4096]");
    s.threads = j["threads"].get<int>();
  }
  if (j.contains("prices")) s.prices = expand_env(req_string(j, "prices", where), where);
  s.backends = string_list(j, "backends", where);
  s.devices = j.contains("devices") ? string_list(j, "devices", where) : std::vector<std::string>{"cpu"};
  for (const auto& b : s.backends)
    if (!safe_name(b)) throw Error(where + ": backend '" + b + "' may hold only letters, digits, '-', '_', '.'");
  for (const auto& d : s.devices)
    if (!safe_name(d)) throw Error(where + ": device '" + d + "' may hold only letters, digits, '-', '_', '.'");

  if (!j.contains("models") || !j["models"].is_array() || j["models"].empty())
    throw Error(where + ": \"models\" must be a non-empty list");
  std::set<std::string> names;
  for (size_t i = 0; i < j["models"].size(); ++i) {
    const auto& m = j["models"][i];
    const std::string w = where + ": models[" + std::to_string(i) + "]";
    if (!m.is_object()) throw Error(w + " must be an object {name, path | paths}");
    ModelEntry e;
    e.name = req_string(m, "name", w);
    if (!safe_name(e.name)) throw Error(w + ": name '" + e.name + "' may hold only letters, digits, '-', '_', '.'");
    if (!names.insert(e.name).second) throw Error(w + ": duplicate model name '" + e.name + "'");
    if (m.contains("path")) e.path = expand_env(req_string(m, "path", w), w);
    if (m.contains("paths")) {
      if (!m["paths"].is_object()) throw Error(w + ": \"paths\" must map backend names to paths");
      for (const auto& [b, p] : m["paths"].items()) {
        if (!p.is_string() || p.get<std::string>().empty()) throw Error(w + ": paths." + b + " must be a non-empty string");
        e.paths[b] = expand_env(p.get<std::string>(), w);
      }
    }
    if (e.path.empty() && e.paths.empty()) throw Error(w + ": needs \"path\" or \"paths\"");
    s.models.push_back(std::move(e));
  }

  if (!j.contains("workloads") || !j["workloads"].is_array() || j["workloads"].empty())
    throw Error(where + ": \"workloads\" must be a non-empty list");
  std::set<std::string> wnames;
  for (size_t i = 0; i < j["workloads"].size(); ++i) {
    const auto& x = j["workloads"][i];
    const std::string w = where + ": workloads[" + std::to_string(i) + "]";
    if (!x.is_object()) throw Error(w + " must be an object {name, workload, params}");
    WorkloadEntry e;
    e.workload = req_string(x, "workload", w);
    e.name = x.contains("name") ? req_string(x, "name", w) : e.workload;
    if (!safe_name(e.name)) throw Error(w + ": name '" + e.name + "' may hold only letters, digits, '-', '_', '.'");
    if (!wnames.insert(e.name).second) throw Error(w + ": duplicate workload name '" + e.name + "'");
    if (x.contains("params")) {
      if (!x["params"].is_object()) throw Error(w + ": \"params\" must be an object of qbench run options");
      for (const auto& [k, v] : x["params"].items()) {
        if (k.empty() || k[0] == '-' || !safe_name(k)) throw Error(w + ": bad option name '" + k + "'");
        if (k == "out" || k == "model" || k == "backend" || k == "device" || k == "workload")
          throw Error(w + ": \"" + k + "\" is set by the matrix, not by params");
        if (v.is_boolean()) {
          if (v.get<bool>()) e.args.emplace_back(k, "");
        } else if (v.is_number_integer()) {
          e.args.emplace_back(k, std::to_string(v.get<int64_t>()));
        } else if (v.is_number()) {
          std::ostringstream o;
          o << v.get<double>();
          e.args.emplace_back(k, o.str());
        } else if (v.is_string()) {
          e.args.emplace_back(k, expand_env(v.get<std::string>(), w));
        } else {
          throw Error(w + ": params." + k + " must be a string, number or boolean");
        }
      }
    }
    s.workloads.push_back(std::move(e));
  }
  return s;
}

MatrixSpec load_matrix_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open matrix spec");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false, true);  // comments allowed
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return parse_matrix_spec(j, path);
}

std::vector<Cell> enumerate_cells(const MatrixSpec& s) {
  std::vector<Cell> cells;
  for (const auto& m : s.models)
    for (const auto& b : s.backends) {
      const auto it = m.paths.find(b);
      const std::string path = it != m.paths.end() ? it->second : m.path;
      if (path.empty()) continue;
      for (const auto& d : s.devices)
        for (const auto& w : s.workloads)
          for (int r = 1; r <= s.repetitions; ++r) {
            Cell c{m.name + "__" + b + "__" + d + "__" + w.name, m.name, path, b, d, &w, r};
            if (s.repetitions > 1) c.id += "__r" + std::to_string(r);
            cells.push_back(std::move(c));
          }
    }
  return cells;
}

}  // namespace qbench::matrix
