#pragma once
// The latency workload: batch 1, a prompt of exactly P tokens, exactly G
// generated tokens (EOS ignored unless asked), repeated. Measures TTFT,
// inter-token latencies (TPOT), prefill and decode rates, and memory.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engines/model/kv_cache.h"
#include "engines/model/sampler.h"
#include "engines/registry/engine.h"
#include "harness/measure/stats.h"

namespace qbench {

struct LatencyParams {
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 256;
  int reps = 3;
  int warmup = 1;
  bool stop_at_eos = false;
  KvType kv_type = KvType::F16;
  SamplerParams sampling;  // greedy by default
  bool counters = true;    // hardware/software counters around prefill and decode
  bool progress = true;
  nlohmann::json to_json() const;
};

struct LatencyRun {
  double ttft_ms = 0;             // prompt in -> first token sampled
  std::vector<double> itl_ms;     // each later token: decode step + sampling
  int64_t generated = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0, total_s = 0;
  std::vector<int32_t> tokens;    // generated ids (for reproducibility checks)
};

struct LatencyResult {
  LatencyParams params;
  std::string prompt_source;      // "bundled-text" or "random-ids"
  std::string decode_loop;        // "pipelined" (greedy on a GPU: Transformer::decode_greedy) or "synchronous"
  std::vector<LatencyRun> runs;   // measured runs only (warm-up excluded)
  nlohmann::json counters = nlohmann::json::object();  // {"prefill": {...}, "decode": {...}} of the last run
  nlohmann::json memory = nlohmann::json::object();    // engine accounting + process RSS
  nlohmann::json to_json() const;  // runs plus summaries (p50/p90/p99)
};

LatencyResult run_latency(Engine& engine, const LatencyParams& params);

}  // namespace qbench
