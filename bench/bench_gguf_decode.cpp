// Decode speed of the GGUF backends on synthetic Qwen2.5-shaped files of each
// mix (Q8_0, Q5_K_S, Q4_K_M), next to this machine's measured read bandwidth:
// a decode step streams every weight once, so tokens/s x bytes/token is the
// achieved bandwidth. A second table times the bare GEMV kernel per block type.
// usage: bench_gguf_decode [--shapes qwen2.5-0.5b,qwen2.5-1.5b] [--types q8_0,q5_k_s,q4_k_m]
//                          [--models-dir models] [--threads N] [--decode 64] [--json FILE]
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "bench/bench_common.h"
#include "engines/cpu/gguf_dot.h"
#include "engines/cpu/linear_gguf_cpu.h"
#include "engines/formats/gguf_synthetic.h"
#include "engines/model/sampler.h"
#include "engines/model/shape_catalog.h"
#include "engines/quant/random_blocks.h"
#include "engines/registry/registry.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/clock.h"
#include "harness/measure/roofline.h"
#include "harness/measure/stats.h"
#include "harness/measure/sysinfo.h"

using namespace qbench;

int main(int argc, char** argv) {
  const int threads = std::stoi(arg(argc, argv, "threads", std::to_string(omp_get_max_threads())));
  omp_set_num_threads(threads);
  const int64_t decode = std::stoll(arg(argc, argv, "decode", "64"));
  const std::string models = arg(argc, argv, "models-dir", "models");
  const auto shapes = split_commas(arg(argc, argv, "shapes", "qwen2.5-0.5b,qwen2.5-1.5b"));
  const auto types = split_commas(arg(argc, argv, "types", "q8_0,q5_k_s,q4_k_m"));

  std::fprintf(stderr, "measuring the roofline with %d threads...\n", threads);
  const Roofline roof = measure_roofline(threads);
  const SystemInfo sys = collect_system_info();
  std::printf("machine: %s, %d cores / %d threads; qbench threads %d\n", sys.cpu.model.c_str(), sys.cpu.cores,
              sys.cpu.threads, threads);
  std::printf("roofline: read %.1f GB/s\n\n", roof.read_bandwidth_gbs);
  std::printf("%-14s %-8s %-22s %9s %12s %11s %8s %15s %8s\n", "shape", "type", "weight types", "MB/token", "decode tok/s",
              "GB/s", "of read", "probes GB/s", "of probes");
  nlohmann::json out = {{"system", sys.to_json()}, {"roofline", roof.to_json()}, {"decode", nlohmann::json::array()},
                        {"gemv", nlohmann::json::array()}};

  for (const std::string& shape : shapes) {
    for (const std::string& type : types) {
      const std::string path = models + "/synthetic-" + shape + "-" + type + ".gguf";
      if (!std::filesystem::exists(path)) {
        std::filesystem::create_directories(models);
        std::fprintf(stderr, "writing %s...\n", path.c_str());
        SyntheticGgufOptions o;
        o.out_path = path;
        o.seed = 1;
        write_synthetic_gguf(shape_config(shape), quant::parse_mix(type), o);
      }
      LoadOptions lo;
      lo.path = path;
      auto e = load_engine(lo);
      Transformer& m = e->model();
      std::vector<int32_t> ids(64);
      for (int i = 0; i < 64; ++i) ids[size_t(i)] = int32_t((i * 7919) % 150000);
      std::vector<float> logits;
      Sequence s = m.new_sequence(64 + decode + 8, KvType::F16);
      m.forward(s, ids.data(), 64, LogitsMode::Last, logits);
      int32_t tok = argmax(logits.data(), m.config().vocab_size);
      for (int i = 0; i < 4; ++i) m.forward(s, &tok, 1, LogitsMode::Last, logits);  // warm: faults the mapping in
      AdjacentProbe probe;
      probe.before = adjacent_probe_gbs(threads);
      std::vector<double> step_s;
      for (int64_t i = 0; i < decode; ++i) {
        const auto t0 = Clock::now();
        m.forward(s, &tok, 1, LogitsMode::Last, logits);
        tok = argmax(logits.data(), m.config().vocab_size);
        step_s.push_back(seconds_since(t0));
      }
      probe.after = adjacent_probe_gbs(threads);
      const double tps = 1.0 / summarize(step_s).p50;
      const double bytes = double(decode_bytes_per_token(m.weights()));
      const double gbs = bytes * tps / 1e9;
      std::printf("%-14s %-8s %-22s %9.1f %12.2f %11.2f %7.0f%% %7.1f/%-7.1f %7.0f%%\n", shape.c_str(), type.c_str(),
                  e->info().weight_dtype.c_str(), bytes / 1e6, tps, gbs, 100 * gbs / roof.read_bandwidth_gbs, probe.before,
                  probe.after, 100 * gbs / probe.mean());
      out["decode"].push_back({{"probe_before_gbs", probe.before}, {"probe_after_gbs", probe.after},
                               {"fraction_of_adjacent_read_bw", gbs / probe.mean()}, {"shape", shape}, {"type", type}, {"weight_types", e->info().weight_dtype},
                               {"bytes_per_token", bytes}, {"decode_tokens_per_s_p50", tps}, {"decode_gbs", gbs},
                               {"fraction_of_read_bw", gbs / roof.read_bandwidth_gbs}});
    }
  }

  // Bare GEMV per block type on a matrix far larger than the caches (in 4864 x out 14336... sized to ~256 MB).
  std::printf("\n%-6s %-11s %10s %10s %8s\n", "type", "kernel", "MB", "GB/s", "of read");
  using quant::GgmlType;
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_K, GgmlType::Q4_K, GgmlType::Q5_0, GgmlType::Q5_1,
                     GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::F16}) {
    const int64_t in = 4864;
    const uint64_t rb = quant::row_bytes(t, in);
    const int64_t out_rows = int64_t((256ull << 20) / rb);
    std::vector<uint8_t> w(rb * uint64_t(out_rows));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < out_rows; ++r) quant::fill_random_row(t, in, uint64_t(r) * 7 + 1, w.data() + uint64_t(r) * rb);
    auto lin = make_gguf_linear_cpu(t, w.data(), in, out_rows);
    std::vector<float> x(static_cast<size_t>(in), 0.5f), y(static_cast<size_t>(out_rows));
    for (int i = 0; i < 2; ++i) lin->forward(x.data(), y.data(), 1);
    std::vector<double> ts;
    for (int i = 0; i < 10; ++i) {
      const auto t0 = Clock::now();
      lin->forward(x.data(), y.data(), 1);
      ts.push_back(seconds_since(t0));
    }
    const double gbs = double(w.size()) / summarize(ts).p50 / 1e9;
    std::printf("%-6s %-11s %10.1f %10.2f %7.0f%%\n", quant::type_name(t), cpu::gguf_dot_isa(t), w.size() / 1e6, gbs,
                100 * gbs / roof.read_bandwidth_gbs);
    out["gemv"].push_back({{"type", quant::type_name(t)}, {"kernel", cpu::gguf_dot_isa(t)}, {"bytes", w.size()},
                           {"gbs", gbs}, {"fraction_of_read_bw", gbs / roof.read_bandwidth_gbs}});
  }
  const std::string json_path = arg(argc, argv, "json", "");
  if (!json_path.empty()) write_json_atomic(json_path, out);
  return 0;
}
