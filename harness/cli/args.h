#pragma once
// Minimal GNU-style option parsing for qbench subcommands: --key value,
// --key=value, boolean --flag, positionals. Unknown options are errors.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace qbench::cli {

class Args {
 public:
  // value_opts take a value; flag_opts do not.
  Args(int argc, char** argv, int first, const std::set<std::string>& value_opts, const std::set<std::string>& flag_opts);

  bool has(const std::string& k) const { return values_.count(k) || flags_.count(k); }
  std::string get(const std::string& k, const std::string& def = "") const;
  std::string require(const std::string& k) const;
  int64_t get_int(const std::string& k, int64_t def) const;
  double get_double(const std::string& k, double def) const;
  bool flag(const std::string& k) const { return flags_.count(k) > 0; }
  const std::vector<std::string>& positional() const { return pos_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> pos_;
};

}  // namespace qbench::cli
