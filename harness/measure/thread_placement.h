#pragma once
// Where CPU worker threads should run, decided from the hwloc topology.
// This half needs no OpenMP; thread_pinning.h applies it to the OpenMP workers.
#include <string>
#include <vector>

namespace qbench {

enum class PinPolicy {
  None,     // leave placement to the OS scheduler
  Compact,  // fill one package first, one thread per core before any hyperthread
  Scatter,  // round-robin across NUMA nodes (or packages), then cores, hyperthreads last
};

// "none" | "compact" | "scatter"; throws qbench::Error otherwise.
PinPolicy parse_pin_policy(const std::string&);
std::string to_string(PinPolicy);

// OS indices of the PUs threads 0..threads-1 should run on; empty for None.
// With more threads than PUs the order repeats (oversubscription).
std::vector<int> plan_thread_placement(PinPolicy policy, int threads);

// Binds the calling thread to one PU (OS index) through hwloc.
// Returns "" on success, otherwise why it failed.
std::string bind_current_thread_to_cpu(int cpu);

}  // namespace qbench
