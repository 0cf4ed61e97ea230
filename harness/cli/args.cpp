#include "harness/cli/args.h"

#include <cstdlib>

#include "engines/core/error.h"

namespace qbench::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& value_opts,
           const std::set<std::string>& flag_opts) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) pos_.push_back(argv[i]);
      break;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      pos_.push_back(a);
      continue;
    }
    std::string key = a.substr(2), val;
    const auto eq = key.find('=');
    const bool inline_val = eq != std::string::npos;
    if (inline_val) {
      val = key.substr(eq + 1);
      key = key.substr(0, eq);
    }
    if (flag_opts.count(key)) {
      if (inline_val) throw Error("option --" + key + " takes no value");
      flags_.insert(key);
    } else if (value_opts.count(key)) {
      if (!inline_val) {
        if (i + 1 >= argc) throw Error("option --" + key + " needs a value");
        val = argv[++i];
      }
      values_[key] = val;
    } else {
      throw Error("unknown option --" + key + " (see qbench help)");
    }
  }
}

std::string Args::get(const std::string& k, const std::string& def) const {
  auto it = values_.find(k);
  return it == values_.end() ? def : it->second;
}

std::string Args::require(const std::string& k) const {
  auto it = values_.find(k);
  if (it == values_.end() || it->second.empty()) throw Error("missing required option --" + k);
  return it->second;
}

int64_t Args::get_int(const std::string& k, int64_t def) const {
  auto it = values_.find(k);
  if (it == values_.end()) return def;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end) throw Error("option --" + k + " needs an integer, got '" + it->second + "'");
  return v;
}

double Args::get_double(const std::string& k, double def) const {
  auto it = values_.find(k);
  if (it == values_.end()) return def;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end) throw Error("option --" + k + " needs a number, got '" + it->second + "'");
  return v;
}

}  // namespace qbench::cli
