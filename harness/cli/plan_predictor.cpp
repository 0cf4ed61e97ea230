#include "harness/plan/predictor.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/model/memory_model.h"

namespace qbench::plan {

using nlohmann::json;

Efficiency Efficiency::defaults_for(const DeviceSpec& d) {
  Efficiency e;
  if (d.is_cpu) {
    e.bandwidth = 0.6;   // OpenMP GEMV over all cores: ~60% of the streaming-read probe
    e.compute = 0.5;
    e.overhead_ms = 1.0;
  }
  return e;
}

json Efficiency::to_json() const {
  json j = {{"bandwidth", bandwidth}, {"compute", compute}, {"overhead_ms", overhead_ms},
            {"layer_overhead_ms", layer_overhead_ms}, {"origin", origin}};
  if (!backend_bandwidth.empty()) j["backend_bandwidth"] = backend_bandwidth;
  return j;
}

void PlanParams::validate() const {
  auto pos = [](int64_t v, const char* what) {
    if (v <= 0 || v > (int64_t(1) << 32)) throw Error(std::string("plan: ") + what + " must be in 1 .. 2^32 (got " + std::to_string(v) + ")");
  };
  pos(context, "--context");
  pos(batch, "--batch");
  pos(prompt_tokens, "--prompt-tokens");
  pos(prefill_chunk, "prefill chunk");
  if (batch > (1 << 20)) throw Error("plan: --batch is implausibly large");
  if (reserve_bytes < -1) throw Error("plan: the runtime reserve cannot be negative");
}

json Prediction::to_json() const {
  return {{"gpu", device},
          {"device_name", device_name},
          {"backend", backend},
          {"fits", fits},
          {"memory_bytes", memory_bytes},
          {"required_bytes", required_bytes()},
          {"weight_bytes", weight_bytes},
          {"kv_bytes", kv_bytes},
          {"activation_bytes", activation_bytes},
          {"reserve_bytes", reserve_bytes},
          {"max_context", max_context},
          {"max_context_capped", max_context_capped},
          {"ttft_ms", ttft_ms},
          {"decode_tokens_per_s", decode_tokens_per_s},
          {"aggregate_tokens_per_s", aggregate_tokens_per_s},
          {"decode_bytes_per_step", decode_bytes_per_step},
          {"decode_bound", decode_compute_bound ? "compute" : "memory"},
          {"efficiency", efficiency.to_json()}};
}

namespace {

// Weights that take part in matrix products, the LM head (tied or not) included.
double matmul_params(const ModelConfig& c) {
  const double h = double(c.hidden_size), qd = double(c.num_heads * c.head_dim), kvd = double(c.num_kv_heads * c.head_dim),
               ff = double(c.intermediate_size);
  const double per_layer = h * qd * 2 + h * kvd * 2 + 3 * h * ff;
  return double(c.num_layers) * per_layer + double(c.vocab_size) * h;
}

uint64_t default_reserve(const DeviceSpec& d) { return d.is_cpu ? 256ull << 20 : 1ull << 30; }

}  // namespace

double prefill_flops(const ModelConfig& c, int64_t prompt) {
  const double p = double(prompt), lm_head = double(c.vocab_size) * double(c.hidden_size);
  const double attention = 2.0 * p * p * double(c.num_heads * c.head_dim) * double(c.num_layers);
  return 2.0 * (matmul_params(c) - lm_head) * p + 2.0 * lm_head + attention;
}

uint64_t decode_step_bytes(const ModelConfig& c, const std::string& backend, const std::string& kv_type, int64_t context,
                           int64_t batch) {
  return weight_breakdown(c, backend).decode_read_bytes() + kv_bytes_per_token(c, kv_type) * uint64_t(context) * uint64_t(batch);
}

double decode_roofline_tokens_per_s(const ModelConfig& c, const std::string& backend, const DeviceSpec& d,
                                    const std::string& kv_type, int64_t context, int64_t batch) {
  return d.bandwidth_gbs * 1e9 / double(decode_step_bytes(c, backend, kv_type, context, batch));
}

Prediction predict(const ModelConfig& c, const std::string& backend, const DeviceSpec& d, const PlanParams& p,
                   const Efficiency& eff) {
  p.validate();
  if (!(eff.bandwidth_for(backend) > 0) || !(eff.compute > 0) || eff.overhead_ms < 0 || eff.layer_overhead_ms < 0)
    throw Error("plan: efficiency factors must be positive");
  Prediction r;
  r.device = d.id;
  r.device_name = d.name;
  r.backend = backend;
  r.efficiency = eff;
  r.memory_bytes = d.memory_bytes;

  // Memory: weights as the backend stores them, KV for every sequence, the
  // activations of one prefill chunk (sequences are prefilled one at a time)
  // or of one decode step of the batch, the logits of the batch, a reserve.
  const WeightBreakdown w = weight_breakdown(c, backend);
  const uint64_t kv_tok = kv_bytes_per_token(c, p.kv_type);
  r.weight_bytes = w.resident_total();
  r.kv_bytes = kv_tok * uint64_t(p.context) * uint64_t(p.batch);
  const int64_t rows = std::max(std::min(p.prefill_chunk, p.context), p.batch);
  r.activation_bytes = activation_bytes(c, rows) + logits_bytes(c, p.batch);
  r.reserve_bytes = p.reserve_bytes >= 0 ? uint64_t(p.reserve_bytes) : default_reserve(d);
  r.fits = r.required_bytes() <= d.memory_bytes;

  const uint64_t fixed = r.weight_bytes + activation_bytes(c, std::max(p.prefill_chunk, p.batch)) +
                         logits_bytes(c, p.batch) + r.reserve_bytes;
  const int64_t limit = c.max_position_embeddings;
  if (fixed < d.memory_bytes) {
    const uint64_t n = (d.memory_bytes - fixed) / (kv_tok * uint64_t(p.batch));
    r.max_context = int64_t(std::min<uint64_t>(n, uint64_t(limit)));
    r.max_context_capped = n >= uint64_t(limit);
  }

  // Decode: one step reads every weight and the batch's KV once.
  const double bw = eff.bandwidth_for(backend) * d.bandwidth_gbs * 1e9, rate = eff.compute * d.matmul_tflops * 1e12;
  r.decode_bytes_per_step = w.decode_read_bytes() + kv_tok * uint64_t(p.context) * uint64_t(p.batch);
  const double mem_s = double(r.decode_bytes_per_step) / bw;
  const double flops = double(p.batch) * (2.0 * matmul_params(c) +
                                          4.0 * double(p.context) * double(c.num_heads * c.head_dim) * double(c.num_layers));
  const double cmp_s = flops / rate;
  const double step_s = std::max(mem_s, cmp_s) + eff.layer_overhead_ms * 1e-3 * double(c.num_layers);
  r.decode_compute_bound = cmp_s > mem_s;
  r.decode_tokens_per_s = 1.0 / step_s;
  r.aggregate_tokens_per_s = double(p.batch) / step_s;

  // TTFT: prefill FLOPs at the calibrated matmul rate; a chunk cannot be
  // faster than reading the weights once.
  const int64_t chunks = (p.prompt_tokens + p.prefill_chunk - 1) / p.prefill_chunk;
  const double prefill_s = std::max(prefill_flops(c, p.prompt_tokens) / rate, double(chunks) * double(w.decode_read_bytes()) / bw);
  r.ttft_ms = prefill_s * 1e3 + eff.overhead_ms;
  return r;
}

}  // namespace qbench::plan
