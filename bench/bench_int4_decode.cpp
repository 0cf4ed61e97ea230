// Batch-1 decode speed of the int4 backends (gptq-int4, awq-int4) on
// synthetic random-code checkpoints of a real shape, next to this machine's
// measured read bandwidth: decode reads every weight once per token, so
// tokens/s x bytes per token / read bandwidth is the fraction of the roofline.
// usage: bench_int4_decode [--shape qwen2.5-1.5b] [--formats gptq-int4,awq-int4] [--models-dir models]
//                          [--threads N] [--context 64] [--decode 64] [--group-size 128] [--json FILE]
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "bench/bench_common.h"
#include "engines/formats/gptq_awq_synthetic.h"
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

uint64_t int4_bytes(const ModelWeights& w) {
  uint64_t b = 0;
  for (auto& L : w.layers)
    for (const Linear* l : {L.q.get(), L.k.get(), L.v.get(), L.o.get(), L.gate.get(), L.up.get(), L.down.get()}) b += l->weight_bytes();
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int threads = std::stoi(arg(argc, argv, "threads", std::to_string(omp_get_max_threads())));
    omp_set_num_threads(threads);
    const std::string shape = arg(argc, argv, "shape", "qwen2.5-1.5b");
    const int64_t context = std::stoll(arg(argc, argv, "context", "64"));
    const int64_t decode = std::stoll(arg(argc, argv, "decode", "64"));
    const int64_t group = std::stoll(arg(argc, argv, "group-size", "128"));
    const std::string models = arg(argc, argv, "models-dir", "models");
    std::vector<std::string> formats;
    std::stringstream ss(arg(argc, argv, "formats", "gptq-int4,awq-int4"));
    for (std::string s; std::getline(ss, s, ',');) formats.push_back(s);

    std::fprintf(stderr, "measuring the read bandwidth with %d threads...\n", threads);
    const double read_gbs = measure_read_bandwidth_gbs(threads);
    const SystemInfo sys = collect_system_info();
    std::printf("machine: %s, %d cores / %d threads; qbench threads %d; read bandwidth %.1f GB/s\n\n", sys.cpu.model.c_str(),
                sys.cpu.cores, sys.cpu.threads, threads, read_gbs);
    std::printf("%-10s %-14s %10s %10s %12s %12s %9s %15s %9s\n", "format", "shape", "int4 GB", "read/tok", "decode tok/s",
                "decode GB/s", "of read", "probes GB/s", "of probes");
    nlohmann::json out = {{"system", sys.to_json()}, {"read_bandwidth_gbs", read_gbs}, {"threads", threads}, {"rows", nlohmann::json::array()}};
    for (const std::string& fmt : formats) {
      if (fmt != "gptq-int4" && fmt != "awq-int4") throw Error("--formats: gptq-int4 or awq-int4, not '" + fmt + "'");
      const std::string dir = models + "/synthetic-" + shape + "-" + fmt + "-g" + std::to_string(group);
      if (!std::filesystem::exists(dir + "/config.json")) {
        std::fprintf(stderr, "writing synthetic %s %s to %s...\n", shape.c_str(), fmt.c_str(), dir.c_str());
        SyntheticInt4Options o;
        o.out_dir = dir;
        o.seed = 1;
        o.group_size = group;
        write_synthetic_int4_checkpoint(shape_config(shape), fmt == "gptq-int4" ? Int4FileFormat::Gptq : Int4FileFormat::Awq, o);
      }
      LoadOptions lo;
      lo.path = dir;
      lo.backend = fmt;
      auto e = load_engine(lo);
      Transformer& m = e->model();
      const ModelConfig& c = m.config();
      std::vector<int32_t> ids(static_cast<size_t>(context));
      for (int64_t i = 0; i < context; ++i) ids[size_t(i)] = int32_t((i * 7919) % c.vocab_size);
      std::vector<float> logits;
      Sequence s = m.new_sequence(context + decode + 8, KvType::F16);
      m.forward(s, ids.data(), context, LogitsMode::Last, logits);
      int32_t tok = argmax(logits.data(), c.vocab_size);
      for (int i = 0; i < 4; ++i) m.forward(s, &tok, 1, LogitsMode::Last, logits);  // warm
      AdjacentProbe probe;
      probe.before = adjacent_probe_gbs(threads);
      std::vector<double> step_s;
      for (int64_t i = 0; i < decode; ++i) {
        const auto t0 = Clock::now();
        m.forward(s, &tok, 1, LogitsMode::Last, logits);
        tok = argmax(logits.data(), c.vocab_size);
        step_s.push_back(seconds_since(t0));
      }
      probe.after = adjacent_probe_gbs(threads);
      const double tps = 1.0 / summarize(step_s).p50;
      const double bytes = double(decode_bytes_per_token(m.weights()));
      const double gbs = bytes * tps / 1e9;
      std::printf("%-10s %-14s %10.3f %9.3fG %12.2f %12.2f %8.0f%% %7.1f/%-7.1f %8.0f%%\n", fmt.c_str(), shape.c_str(),
                  int4_bytes(m.weights()) / 1e9, bytes / 1e9, tps, gbs, 100 * gbs / read_gbs, probe.before, probe.after,
                  100 * gbs / probe.mean());
      out["rows"].push_back({{"probe_before_gbs", probe.before}, {"probe_after_gbs", probe.after},
                               {"fraction_of_adjacent_read_bw", gbs / probe.mean()}, {"format", fmt}, {"shape", shape}, {"group_size", group}, {"int4_linear_bytes", int4_bytes(m.weights())},
                             {"decode_bytes_per_token", bytes}, {"decode_tokens_per_s_p50", tps}, {"decode_gbs", gbs},
                             {"fraction_of_read_bw", gbs / read_gbs}, {"context", context}, {"decode_steps", decode}});
    }
    const std::string json_path = arg(argc, argv, "json", "");
    if (!json_path.empty()) write_json_atomic(json_path, out);
    return 0;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bench_int4_decode: %s\n", ex.what());
    return 1;
  }
}
