#pragma once
// Pins the OpenMP worker threads, the ones the CPU kernels run on.
//
// Header-only because it must run an OpenMP parallel region and qbench_measure
// is not compiled with OpenMP; targets that link qbench_engines are.
#include <omp.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "harness/measure/thread_placement.h"

#ifndef _OPENMP
#error "harness/measure/thread_pinning.h needs OpenMP: include it from a target linked to qbench_engines"
#endif

namespace qbench {

// Binds each of `threads` OpenMP workers to the PU `policy` picks for it and
// sets the OpenMP team size to `threads`, so later parallel regions reuse the
// same (bound) pool threads. Note the calling thread is worker 0: it stays
// bound, and threads it creates later inherit that single-PU affinity.
// None leaves placement and team size untouched.
// Returns {policy, threads, cpus: [PU of worker 0, 1, ...]} plus "errors" if a bind failed.
inline nlohmann::json apply_thread_pinning(PinPolicy policy, int threads) {
  if (threads < 1) throw Error("thread pinning needs at least one thread, got " + std::to_string(threads));
  nlohmann::json j = {{"policy", to_string(policy)}, {"threads", threads}, {"cpus", nlohmann::json::array()}};
  if (policy == PinPolicy::None) return j;

  const std::vector<int> cpus = plan_thread_placement(policy, threads);
  std::vector<std::string> errors(size_t(threads), "not started by OpenMP");
  int team = 0;
  omp_set_dynamic(0);  // a dynamic team could hand the work to unbound threads
  omp_set_num_threads(threads);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    errors[size_t(t)] = bind_current_thread_to_cpu(cpus[size_t(t)]);
#pragma omp single
    team = omp_get_num_threads();
  }
  j["threads"] = team;
  j["cpus"] = std::vector<int>(cpus.begin(), cpus.begin() + team);
  nlohmann::json failed = nlohmann::json::array();
  for (int t = 0; t < threads; ++t)
    if (!errors[size_t(t)].empty()) failed.push_back("thread " + std::to_string(t) + ": " + errors[size_t(t)]);
  if (!failed.empty()) j["errors"] = failed;
  return j;
}

}  // namespace qbench
