#include "tests/support/test_paths.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

namespace fs = std::filesystem;

namespace qbench::test {

std::string repo_root() { return QBENCH_SOURCE_DIR; }

std::string shared_dir() {
  if (const char* env = std::getenv("QBENCH_SHARED_DIR")) return fs::exists(env) ? env : "";
  fs::path p = fs::path(QBENCH_SOURCE_DIR).parent_path() / "shared";
  return fs::exists(p) ? fs::canonical(p).string() : "";
}

static bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

bool require_shared(const std::string& relative_path) {
  const std::string dir = shared_dir();
  if (!dir.empty() && fs::exists(fs::path(dir) / relative_path)) return true;
  const std::string why = "../shared/" + relative_path + " is not present (set QBENCH_SHARED_DIR or place shared/ beside the repo)";
  if (under_ci()) FAIL("CI=true but " + why);
  WARN("SKIPPED: " + why);
  return false;
}

namespace {
struct TempDirs {
  std::mutex mu;
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs g_temp;
}  // namespace

std::string temp_dir(const std::string& tag) {
  std::lock_guard<std::mutex> lock(g_temp.mu);
  fs::path base = fs::temp_directory_path() / ("qbench-test-" + std::to_string(::getpid()));
  fs::path d = base / (tag + "-" + std::to_string(g_temp.dirs.size()));
  fs::remove_all(d);
  fs::create_directories(d);
  g_temp.dirs.push_back(base);
  return d.string();
}

}  // namespace qbench::test
