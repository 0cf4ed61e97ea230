#pragma once
// bench_args.h, plus the read-bandwidth probe the CPU decode benchmarks take
// around every timed row (needs OpenMP: CPU benchmarks only).
#include "bench/bench_args.h"
#include "harness/measure/memory_bandwidth.h"

namespace qbench {

// Read bandwidth probed right before and right after one timed decode. On a
// shared VM the bandwidth drifts over minutes (30-64 GB/s seen here), so one
// probe at the start of a long benchmark says little about a run ten minutes
// later; each row is compared with the mean of its own two probes.
struct AdjacentProbe {
  double before = 0, after = 0;
  double mean() const { return 0.5 * (before + after); }
};
inline double adjacent_probe_gbs(int threads) { return measure_read_bandwidth_gbs(threads, 512ull << 20, 3); }

}  // namespace qbench
