#include "reports/latency_summary.h"

#include <sstream>

#include "reports/units.h"

namespace qbench {

namespace {

std::string pct(const nlohmann::json& s, int decimals) {
  if (!s.is_object()) return "-";
  return format_fixed(s.value("p50", 0.0), decimals) + "  (p90 " + format_fixed(s.value("p90", 0.0), decimals) + ", p99 " +
         format_fixed(s.value("p99", 0.0), decimals) + ", n=" + std::to_string(s.value("n", 0)) + ")";
}

}  // namespace

std::string format_latency_summary(const nlohmann::json& r) {
  std::ostringstream o;
  const auto& m = r["model"];
  const auto& w = r["workload"];
  const auto& p = w["params"];
  const auto& s = w["summary"];
  o << "model    " << m.value("path", "?") << "\n";
  o << "backend  " << m.value("backend", "?") << " on " << m.value("device", "?") << ", "
    << m["config"].value("parameters", int64_t(0)) / 1e6 << " M parameters, weights "
    << format_bytes(m.value("weight_bytes", uint64_t(0))) << "\n";
  o << "workload latency: prompt " << p.value("prompt_tokens", 0) << " tokens, generate " << p.value("gen_tokens", 0)
    << ", batch 1, " << p.value("reps", 0) << " runs after " << p.value("warmup", 0) << " warm-up, threads "
    << r["runtime"].value("threads", 0) << ", KV " << p.value("kv_type", "?") << "\n\n";
  o << "  TTFT (ms)             " << pct(s["ttft_ms"], 1) << "\n";
  if (s.contains("tpot_ms")) o << "  TPOT (ms/token)       " << pct(s["tpot_ms"], 2) << "\n";
  if (s.contains("itl_ms")) o << "  inter-token (ms)      " << pct(s["itl_ms"], 2) << "\n";
  o << "  prefill (tokens/s)    " << pct(s["prefill_tokens_per_s"], 1) << "\n";
  o << "  decode (tokens/s)     " << pct(s["decode_tokens_per_s"], 2) << "\n";
  const auto& mem = w["memory"];
  if (mem.contains("engine_peak")) {
    const auto& e = mem["engine_peak"];
    o << "  memory                weights " << format_bytes(e.value("weights", uint64_t(0))) << ", KV cache "
      << format_bytes(e.value("kv_cache", uint64_t(0))) << ", activations " << format_bytes(e.value("activations", uint64_t(0)))
      << "; process peak RSS " << format_bytes(mem.value("process_peak_rss_bytes", uint64_t(0))) << "\n";
  }
  return o.str();
}

}  // namespace qbench
