#pragma once
// Small pieces every benchmark program shares: reading --key value options,
// and what one decode step streams from memory (the roofline's numerator).
#include <cstdint>
#include <string>

#include "engines/model/model_weights.h"
#include "harness/measure/memory_bandwidth.h"

namespace qbench {

// Value of `--key VALUE` on the command line, else def.
inline std::string arg(int argc, char** argv, const std::string& key, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + key) return argv[i + 1];
  return def;
}

// Bytes one decode step reads: every Linear once; the embedding table only
// when it is also the LM head (otherwise one row is gathered).
inline uint64_t decode_bytes_per_token(const ModelWeights& w) {
  uint64_t b = w.weight_bytes();
  if (w.lm_head) b -= w.embed->weight_bytes();
  return b;
}

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
