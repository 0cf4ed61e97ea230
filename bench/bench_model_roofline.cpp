// End-to-end CPU benchmark of the dense (FP16) engine on synthetic Qwen2.5
// shapes, next to this machine's measured roofline:
//   decode:  weight bytes read per token x tokens/s  vs  measured read bandwidth
//   prefill: linear-layer FLOPs x tokens / time       vs  measured FP32 GEMM rate
// usage: bench_model_roofline [--shapes qwen2.5-0.5b,qwen2.5-1.5b] [--models-dir models]
//                             [--threads N] [--prompt 512] [--decode 64] [--json FILE]
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "bench/bench_common.h"
#include "engines/formats/synthetic_checkpoint.h"
#include "engines/model/sampler.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/clock.h"
#include "harness/measure/roofline.h"
#include "harness/measure/stats.h"
#include "harness/measure/sysinfo.h"

using namespace qbench;

namespace {

// FLOPs of the projections for one token (2 per multiply-add), LM head once.
double linear_flops_per_token(const ModelConfig& c) {
  const double h = double(c.hidden_size), q = double(c.num_heads * c.head_dim), kv = double(c.num_kv_heads * c.head_dim);
  const double per_layer = h * q * 2 + h * kv * 2 + 3 * h * double(c.intermediate_size);
  return 2.0 * (double(c.num_layers) * per_layer);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = std::stoi(arg(argc, argv, "threads", std::to_string(omp_get_max_threads())));
  omp_set_num_threads(threads);
  const int64_t prompt = std::stoll(arg(argc, argv, "prompt", "512"));
  const int64_t decode = std::stoll(arg(argc, argv, "decode", "64"));
  const std::string models = arg(argc, argv, "models-dir", "models");
  std::vector<std::string> shapes;
  std::stringstream ss(arg(argc, argv, "shapes", "qwen2.5-0.5b,qwen2.5-1.5b"));
  for (std::string s; std::getline(ss, s, ',');) shapes.push_back(s);

  std::fprintf(stderr, "measuring the roofline with %d threads...\n", threads);
  const Roofline roof = measure_roofline(threads);
  const SystemInfo sys = collect_system_info();
  std::printf("machine: %s, %d cores / %d threads, %.1f GiB; qbench threads %d\n", sys.cpu.model.c_str(), sys.cpu.cores,
              sys.cpu.threads, sys.memory_bytes / 1073741824.0, threads);
  std::printf("roofline: read %.1f GB/s, copy %.1f GB/s, FP32 GEMM %.1f GFLOP/s\n\n", roof.read_bandwidth_gbs,
              roof.copy_bandwidth_gbs, roof.fp32_gemm_gflops);
  std::printf("%-14s %10s %12s %14s %9s %14s %14s %9s\n", "shape", "weights", "decode tok/s", "decode GB/s", "of read",
              "prefill tok/s", "prefill GFLOP/s", "of GEMM");

  nlohmann::json out = {{"system", sys.to_json()}, {"roofline", roof.to_json()}, {"rows", nlohmann::json::array()}};
  for (const std::string& shape : shapes) {
    const std::string dir = models + "/synthetic-" + shape;
    if (!std::filesystem::exists(dir + "/config.json")) {
      std::fprintf(stderr, "writing synthetic %s to %s...\n", shape.c_str(), dir.c_str());
      SyntheticOptions o;
      o.out_dir = dir;
      o.seed = 1;
      write_synthetic_checkpoint(shape_config(shape), o);
    }
    LoadOptions lo;
    lo.path = dir;
    lo.backend = "fp16";
    auto e = load_engine(lo);
    Transformer& m = e->model();
    const ModelConfig& c = m.config();
    std::vector<int32_t> ids(static_cast<size_t>(prompt));
    for (int64_t i = 0; i < prompt; ++i) ids[size_t(i)] = int32_t((i * 7919) % 150000);
    std::vector<float> logits;

    // Prefill: best of 3 after a warm-up (the first pass also faults the mapped weights in).
    std::vector<double> pre_s;
    for (int rep = 0; rep < 4; ++rep) {
      Sequence s = m.new_sequence(prompt + decode + 1, KvType::F16);
      const auto t0 = Clock::now();
      m.forward(s, ids.data(), prompt, LogitsMode::Last, logits);
      if (rep > 0) pre_s.push_back(seconds_since(t0));
    }
    // Decode: per-token times after a short context of 64 tokens.
    Sequence s = m.new_sequence(64 + decode + 8, KvType::F16);
    m.forward(s, ids.data(), 64, LogitsMode::Last, logits);
    int32_t tok = argmax(logits.data(), c.vocab_size);
    for (int i = 0; i < 4; ++i) m.forward(s, &tok, 1, LogitsMode::Last, logits);  // warm
    std::vector<double> step_s;
    for (int64_t i = 0; i < decode; ++i) {
      const auto t0 = Clock::now();
      m.forward(s, &tok, 1, LogitsMode::Last, logits);
      tok = argmax(logits.data(), c.vocab_size);
      step_s.push_back(seconds_since(t0));
    }
    const double step = summarize(step_s).p50;
    const double dec_tps = 1.0 / step;
    const double bytes = double(decode_bytes_per_token(m.weights()));
    const double dec_gbs = bytes * dec_tps / 1e9;
    const double pre_t = summarize(pre_s).min;
    const double pre_tps = double(prompt) / pre_t;
    const double lm_flops = 2.0 * double(c.hidden_size) * double(c.vocab_size);  // last position only
    const double pre_gflops = (linear_flops_per_token(c) * double(prompt) + lm_flops) / pre_t / 1e9;
    std::printf("%-14s %8.2fGB %12.2f %14.2f %8.0f%% %14.1f %14.1f %8.0f%%\n", shape.c_str(), bytes / 1e9, dec_tps, dec_gbs,
                100 * dec_gbs / roof.read_bandwidth_gbs, pre_tps, pre_gflops, 100 * pre_gflops / roof.fp32_gemm_gflops);
    out["rows"].push_back({{"shape", shape}, {"decode_bytes_per_token", bytes}, {"decode_tokens_per_s_p50", dec_tps},
                           {"decode_gbs", dec_gbs}, {"decode_fraction_of_read_bw", dec_gbs / roof.read_bandwidth_gbs},
                           {"prefill_tokens", prompt}, {"prefill_s_best", pre_t}, {"prefill_tokens_per_s", pre_tps},
                           {"prefill_gflops", pre_gflops}, {"prefill_fraction_of_gemm", pre_gflops / roof.fp32_gemm_gflops}});
  }
  const std::string json_path = arg(argc, argv, "json", "");
  if (!json_path.empty()) write_json_atomic(json_path, out);
  return 0;
}
