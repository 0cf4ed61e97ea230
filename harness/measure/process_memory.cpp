#include "harness/measure/process_memory.h"

#include <fstream>
#include <sstream>
#include <string>

namespace qbench {

namespace {

// /proc/self/status lines look like "VmRSS:\t  123456 kB".
uint64_t kib_field(const std::string& line) {
  std::istringstream in(line.substr(line.find(':') + 1));
  uint64_t kib = 0;
  in >> kib;
  return kib * 1024;
}

}  // namespace

ProcessMemory read_process_memory() {
  ProcessMemory m{0, 0};
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) m.rss_bytes = kib_field(line);
    else if (line.starts_with("VmHWM:")) m.peak_rss_bytes = kib_field(line);
    else if (line.starts_with("RssAnon:")) m.rss_anon_bytes = kib_field(line);
    else if (line.starts_with("RssFile:")) m.rss_file_bytes = kib_field(line);
  }
  return m;
}

bool try_reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  if (!clear_refs) return false;
  clear_refs << "5" << std::flush;
  return bool(clear_refs);
}

void reset_peak_rss() { (void)try_reset_peak_rss(); }

nlohmann::json ProcessMemory::to_json() const {
  return {{"rss_bytes", rss_bytes},
          {"peak_rss_bytes", peak_rss_bytes},
          {"rss_anon_bytes", rss_anon_bytes},
          {"rss_file_bytes", rss_file_bytes}};
}

}  // namespace qbench
