#include "harness/measure/run_context.h"

#include <unistd.h>

#include <ctime>
#include <string_view>

#ifndef QBENCH_GIT_REV
#define QBENCH_GIT_REV "unknown"
#endif
#ifndef QBENCH_VERSION
#define QBENCH_VERSION "unknown"
#endif

namespace qbench {

std::string build_version() { return QBENCH_VERSION; }
std::string build_git_revision() { return QBENCH_GIT_REV; }

std::string shell_quote(const std::string& word) {
  if (word.empty()) return "''";
  bool safe = true;
  for (unsigned char c : word) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("@%+=:,./_-").find(char(c)) != std::string_view::npos;
    if (!ok) {
      safe = false;
      break;
    }
  }
  if (safe) return word;
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::map<std::string, std::string> engine_environment(char** env) {
  std::map<std::string, std::string> out;
  for (char** e = env; e && *e; ++e) {
    const std::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = kv.substr(0, eq);
    if (name.substr(0, 7) == "QBENCH_" || name.substr(0, 4) == "OMP_") out.emplace(name, kv.substr(eq + 1));
  }
  return out;
}

RunContext make_run_context(int argc, char** argv) {
  RunContext r;
  r.qbench_version = build_version();
  r.git_revision = build_git_revision();
  for (int i = 0; i < argc; ++i) {
    if (!argv || !argv[i]) continue;
    if (!r.command_line.empty()) r.command_line += ' ';
    r.command_line += shell_quote(argv[i]);
  }
  r.started_at_utc = utc_now_iso8601();
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) == 0) r.hostname = host;
  r.environment = engine_environment(environ);
  return r;
}

nlohmann::json RunContext::to_json() const {
  return {{"qbench_version", qbench_version}, {"git_revision", git_revision}, {"command_line", command_line},
          {"started_at_utc", started_at_utc}, {"hostname", hostname}, {"environment", environment}};
}

}  // namespace qbench
