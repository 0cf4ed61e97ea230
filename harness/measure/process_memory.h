#pragma once
// The process's own view of its memory, from /proc/self/status.
// RSS counts every resident page mapped by the process, file-backed ones
// included: an mmap'ed model file shows up in rss_file_bytes once touched,
// even though the page cache could drop it. See docs/measurement.md.
#include <cstdint>

#include <nlohmann/json.hpp>

namespace qbench {

struct ProcessMemory {
  uint64_t rss_bytes;        // VmRSS
  uint64_t peak_rss_bytes;   // VmHWM: high-water mark since start or the last reset_peak_rss()
  uint64_t rss_anon_bytes = 0;   // RssAnon (Linux >= 4.5): heap, stacks, anonymous mmaps
  uint64_t rss_file_bytes = 0;   // RssFile (Linux >= 4.5): resident pages of mapped files
  nlohmann::json to_json() const;
};

// Zeros where /proc/self/status (or a field) is unavailable; never throws.
ProcessMemory read_process_memory();

// Resets VmHWM to the current RSS by writing "5" to /proc/self/clear_refs
// (Linux >= 4.0). Returns false when the kernel does not allow it.
bool try_reset_peak_rss();
// Same, silently a no-op where unsupported.
void reset_peak_rss();

}  // namespace qbench
