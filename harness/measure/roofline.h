#pragma once
// The machine's measured ceilings: every performance claim is compared to these.
// Header-only: the probes run OpenMP regions (and Eigen), which qbench_measure
// is not compiled with; include from targets linked to qbench_engines.
#include <nlohmann/json.hpp>

#include "harness/measure/roofline_gemm.h"  // first: it includes the intrinsics headers warning-free
#include "harness/measure/memory_bandwidth.h"

namespace qbench {

struct Roofline {
  double read_bandwidth_gbs;  // 1e9 bytes/s streamed from DRAM by `threads` threads
  double copy_bandwidth_gbs;  // (read + write) 1e9 bytes/s
  double fp32_gemm_gflops;    // Eigen FP32 GEMM, 1e9 FLOP/s
  int threads;
  nlohmann::json to_json() const {
    return {{"read_bandwidth_gbs", read_bandwidth_gbs},
            {"copy_bandwidth_gbs", copy_bandwidth_gbs},
            {"fp32_gemm_gflops", fp32_gemm_gflops},
            {"threads", threads}};
  }
};

// All three probes with their default sizes (about 1 GiB of memory at peak).
// Threads are placed wherever they already are: pin first (thread_pinning.h) for stable numbers.
inline Roofline measure_roofline(int threads) {
  Roofline r;
  r.threads = threads;
  r.read_bandwidth_gbs = measure_read_bandwidth_gbs(threads);
  r.copy_bandwidth_gbs = measure_copy_bandwidth_gbs(threads);
  r.fp32_gemm_gflops = measure_fp32_gemm_gflops(threads);
  return r;
}

}  // namespace qbench
