#pragma once
// Provenance of a result: which build ran, how it was invoked, when and where.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace qbench {

struct RunContext {
  std::string qbench_version;
  std::string git_revision;    // short hash, "-dirty" when built from a modified tree; "unknown" outside git
  std::string command_line;    // argv joined and shell-quoted: pasting it re-runs the command
  std::string started_at_utc;  // ISO 8601, e.g. "2025-01-31T12:34:56Z"
  std::string hostname;
  // Variables that change what the engine runs (QBENCH_*: paths and folds switched for A/B measurements;
  // OMP_*: CPU threads), as set when the run started; two results compare only with equal settings.
  std::map<std::string, std::string> environment;
  nlohmann::json to_json() const;
};

RunContext make_run_context(int argc, char** argv);

// The build's identity, baked in at configure time.
std::string build_version();       // QBENCH_VERSION
std::string build_git_revision();  // QBENCH_GIT_REV

// POSIX shell quoting: words made only of safe characters pass unchanged,
// anything else is single-quoted ('it'\''s'); the empty word becomes ''.
std::string shell_quote(const std::string& word);

// Current UTC time as ISO 8601 with second resolution.
std::string utc_now_iso8601();

// The QBENCH_* and OMP_* variables of an environment block (environ's format: "NAME=value" strings, null-terminated).
std::map<std::string, std::string> engine_environment(char** env);

}  // namespace qbench
