#pragma once
// First-principles prediction for one (device, backend): does the model fit,
// the longest context that fits, time to first token and decode speed.
//   decode step  = max(bytes read / (eff_bw x bandwidth), FLOPs / (eff_compute x matmul rate)) + layers x layer overhead
//                  bytes read = weights once + KV of every sequence at the context
//   TTFT         = prompt FLOPs / (eff_compute x matmul rate) (at least one weight read per chunk) + overhead
//   fits         = weights + KV(context x batch) + activations + runtime reserve <= device memory
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "engines/model/model_config.h"
#include "harness/plan/device_catalog.h"

namespace qbench::plan {

// Fractions of the device's peak a real runtime reaches; defaults are stated
// guesses (docs/planner.md), replaced by --calibrate fits from measured runs.
struct Efficiency {
  double bandwidth = 0.75;   // decode: share of peak DRAM bandwidth
  double compute = 0.5;      // prefill: share of peak matmul rate
  double overhead_ms = 5.0;  // TTFT: launch, sampling, host work
  // decode: fixed time per layer and step (kernel launches and small kernels on a GPU, thread
  // barriers per Linear on a CPU): what makes small models slower per byte than large ones.
  double layer_overhead_ms = 0.0;
  // Decode bandwidth share of backends whose kernels do not stream at the dense
  // rate (dequantisation that is compute-bound on a small CPU), fitted from that
  // backend's own runs; backends not listed use `bandwidth`.
  std::map<std::string, double> backend_bandwidth;
  std::string origin = "default";  // "default" or "calibrated (N runs)"
  double bandwidth_for(const std::string& backend) const {
    auto it = backend_bandwidth.find(backend);
    return it == backend_bandwidth.end() ? bandwidth : it->second;
  }
  static Efficiency defaults_for(const DeviceSpec& d);
  nlohmann::json to_json() const;
};

struct PlanParams {
  int64_t context = 4096;        // tokens per sequence the KV cache must hold
  int64_t batch = 1;             // concurrent sequences
  int64_t prompt_tokens = 512;   // TTFT is predicted for a prompt this long
  int64_t prefill_chunk = 512;   // tokens per prefill pass (activation memory)
  std::string kv_type = "f16";   // f16, f32, bf16, q8_0, q4_0
  int64_t reserve_bytes = -1;    // runtime reserve; -1 = default per device (GPU 1 GiB, CPU 256 MiB)
  void validate() const;
};

struct Prediction {
  std::string device, device_name, backend;
  uint64_t memory_bytes = 0;  // the device's
  uint64_t weight_bytes = 0, kv_bytes = 0, activation_bytes = 0, reserve_bytes = 0;
  uint64_t required_bytes() const { return weight_bytes + kv_bytes + activation_bytes + reserve_bytes; }
  bool fits = false;
  int64_t max_context = 0;         // longest context at this batch that fits (capped at the model's max positions)
  bool max_context_capped = false; // true when the cap, not memory, decided it
  double ttft_ms = 0;
  double decode_tokens_per_s = 0;  // per sequence
  double aggregate_tokens_per_s = 0;  // all sequences of the batch
  uint64_t decode_bytes_per_step = 0;
  bool decode_compute_bound = false;
  Efficiency efficiency;
  nlohmann::json to_json() const;
};

// FLOPs of one prefill of `prompt` tokens: 2 per weight per token (LM head for the last token only)
// plus causal attention (QK^T and PV: 2 x prompt^2 x q_dim per layer).
double prefill_flops(const ModelConfig& c, int64_t prompt);
// Bytes read by one decode step of `batch` sequences each `context` tokens long.
uint64_t decode_step_bytes(const ModelConfig& c, const std::string& backend, const std::string& kv_type, int64_t context,
                           int64_t batch);
// The decode tokens/s a device's full bandwidth would allow (efficiency 1): what calibration scales.
double decode_roofline_tokens_per_s(const ModelConfig& c, const std::string& backend, const DeviceSpec& d,
                                    const std::string& kv_type, int64_t context, int64_t batch);

Prediction predict(const ModelConfig& c, const std::string& backend, const DeviceSpec& d, const PlanParams& p,
                   const Efficiency& eff);

}  // namespace qbench::plan
