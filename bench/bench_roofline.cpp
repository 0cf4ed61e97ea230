// This machine's measured ceilings, the yardstick of every other benchmark:
// DRAM read and copy bandwidth and FP32 GEMM rate, for one thread and for all.
// usage: bench_roofline [--threads 1,2,...] [--pin none|compact|scatter] [--json FILE]
#include <omp.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "engines/core/error.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/roofline.h"
#include "harness/measure/run_context.h"
#include "harness/measure/sysinfo.h"
#include "harness/measure/thread_pinning.h"

using namespace qbench;

namespace {

struct Options {
  std::vector<int> threads;
  PinPolicy pin = PinPolicy::Compact;  // pinned threads give repeatable ceilings
  std::string json_path;
};

void usage(const char* argv0) {
  std::printf("usage: %s [--threads 1,2,...] [--pin none|compact|scatter] [--json FILE]\n"
              "Measures read bandwidth, copy bandwidth and FP32 GEMM GFLOP/s (default: 1 thread and all).\n",
              argv0);
}

Options parse(int argc, char** argv) {
  Options o;
  const int all = collect_system_info().cpu.threads;
  o.threads = all > 1 ? std::vector<int>{1, all} : std::vector<int>{1};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--threads") {
      o.threads.clear();
      std::stringstream list(value());
      for (std::string t; std::getline(list, t, ',');) {
        const int n = t == "all" ? all : std::atoi(t.c_str());
        if (n < 1) throw Error("--threads: '" + t + "' is not a positive thread count");
        o.threads.push_back(n);
      }
    } else if (a == "--pin") {
      o.pin = parse_pin_policy(value());
    } else if (a == "--json") {
      o.json_path = value();
    } else if (a == "-h" || a == "--help") {
      usage(argv[0]);
      std::exit(0);
    } else {
      throw Error("unknown option " + a);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  const RunContext ctx = make_run_context(argc, argv);
  const SystemInfo sys = collect_system_info();
  std::printf("%s, %d cores / %d threads, L3 %.0f MiB, %.1f GiB; pin %s\n", sys.cpu.model.c_str(), sys.cpu.cores,
              sys.cpu.threads, double(sys.cpu.l3_bytes) / 1048576.0, double(sys.memory_bytes) / 1073741824.0,
              to_string(opt.pin).c_str());
  std::printf("%7s  %10s  %10s  %17s  %s\n", "threads", "read GB/s", "copy GB/s", "FP32 GEMM GFLOP/s", "cpus");

  nlohmann::json rows = nlohmann::json::array();
  for (int t : opt.threads) {
    const nlohmann::json pinning = apply_thread_pinning(opt.pin, t);
    const Roofline r = measure_roofline(t);
    std::printf("%7d  %10.1f  %10.1f  %17.1f  %s\n", t, r.read_bandwidth_gbs, r.copy_bandwidth_gbs,
                r.fp32_gemm_gflops, pinning["cpus"].dump().c_str());
    std::fflush(stdout);
    nlohmann::json row = r.to_json();
    row["pinning"] = pinning;
    rows.push_back(row);
  }

  const nlohmann::json out = {{"schema", "qbench.roofline"},
                              {"schema_version", 1},
                              {"context", ctx.to_json()},
                              {"system", sys.to_json()},
                              {"probes",
                               {{"read", "sum of a 1 GiB float buffer, AVX loads, best of 5"},
                                {"copy", "512 MiB -> 512 MiB with non-temporal stores, read + write bytes, best of 5"},
                                {"gemm", "Eigen FP32 1024^3, output columns split across threads, best of 3"}}},
                              {"rooflines", rows}};
  std::printf("%s\n", out["rooflines"].dump(2).c_str());
  if (!opt.json_path.empty()) {
    write_json_atomic(opt.json_path, out);
    std::printf("wrote %s\n", opt.json_path.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_roofline: %s\n", e.what());
  return 1;
}
