#pragma once
// The throughput workload: N requests served by continuous batching, arriving
// at a fixed concurrency (closed loop: a new request as soon as one finishes)
// or as a Poisson process at a given rate (open loop). Measures request and
// token throughput, TTFT / TPOT / ITL / end-to-end latency percentiles, and KV
// cache usage over time. A sweep repeats it over several concurrencies or rates.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "engines/model/kv_cache.h"
#include "engines/model/sampler.h"
#include "engines/registry/engine.h"
#include "workloads/batch_scheduler.h"
#include "workloads/request_source.h"

namespace qbench {

struct ThroughputParams {
  int64_t requests = 100;
  // > 0: a concurrency point c runs min(requests, requests_per_concurrency * c) requests, so a sweep's
  // low-concurrency points (one request at a time) do not dominate its run time.
  int64_t requests_per_concurrency = 0;
  std::vector<int64_t> concurrency;  // one point per value (closed loop)
  std::vector<double> rate;          // or one point per value (requests/s, Poisson)
  LengthDist prompt_tokens = LengthDist::parse("512");
  LengthDist gen_tokens = LengthDist::parse("256");
  SchedulerLimits limits;
  int64_t kv_tokens = 0;  // KV pool size in tokens; 0 = enough for max_num_seqs requests of the longest draw
  int64_t kv_block_tokens = KvBlockPool::kDefaultBlockTokens;
  KvType kv_type = KvType::F16;
  SamplerParams sampling;
  uint64_t seed = 0;
  bool progress = true;
  double util_period_ms = 50;  // NVML utilisation sampling period on CUDA
  nlohmann::json to_json() const;
};

nlohmann::json run_throughput(Engine& engine, const ThroughputParams& params);

}  // namespace qbench
