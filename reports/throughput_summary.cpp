#include "reports/throughput_summary.h"

#include <cstdio>
#include <sstream>

namespace qbench {

std::string format_throughput_summary(const nlohmann::json& r) {
  std::ostringstream o;
  const auto& m = r["model"];
  const auto& w = r["workload"];
  const auto& p = w["params"];
  o << "model    " << m.value("path", "?") << "\n";
  o << "backend  " << m.value("backend", "?") << " on " << m.value("device", "?") << "\n";
  o << "workload throughput: " << p.value("requests", 0) << " requests, prompt " << p.value("prompt_tokens", "?")
    << ", output " << p.value("gen_tokens", "?") << ", max " << p.value("max_num_seqs", 0) << " seqs / "
    << p.value("max_batched_tokens", 0) << " tokens per step\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-12s %9s %10s %10s %10s %10s %10s %10s %8s\n", "point", "req/s", "out tok/s",
                "TTFT p50", "TTFT p99", "TPOT p50", "ITL p99", "E2E p99", "GPU %");
  o << line;
  auto ms = [](const nlohmann::json& s, const char* k) { return s.is_object() ? s.value(k, 0.0) : 0.0; };
  for (auto& pt : w["points"]) {
    const auto& s = pt["summary"];
    const std::string name = pt["concurrency"].is_null() ? "rate " + std::to_string(pt["rate"].get<double>()).substr(0, 5)
                                                         : "conc " + std::to_string(pt["concurrency"].get<int64_t>());
    // GPU utilisation (NVML, mean of the samples) where it was measured.
    std::string util = "-";
    if (pt.contains("gpu_utilization") && pt["gpu_utilization"].value("available", false)) {
      char u[32];
      std::snprintf(u, sizeof u, "%.0f", pt["gpu_utilization"]["gpu_percent"].value("mean", 0.0));
      util = u;
    }
    std::snprintf(line, sizeof line, "  %-12s %9.3f %10.2f %10.1f %10.1f %10.2f %10.2f %10.1f %8s\n", name.c_str(),
                  s.value("request_throughput_per_s", 0.0), s.value("output_tokens_per_s", 0.0), ms(s["ttft_ms"], "p50"),
                  ms(s["ttft_ms"], "p99"), ms(s["tpot_ms"], "p50"), ms(s["itl_ms"], "p99"), ms(s["e2e_ms"], "p99"),
                  util.c_str());
    o << line;
  }
  o << "  (latencies in ms)\n";
  return o.str();
}

}  // namespace qbench
