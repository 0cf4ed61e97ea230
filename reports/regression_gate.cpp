#include "reports/regression_gate.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "engines/core/error.h"
#include "reports/metric_catalog.h"
#include "reports/units.h"

namespace qbench::report {

void parse_threshold(const std::string& spec, GateOptions& o) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("--threshold needs metric=percent, got '" + spec + "'");
  const std::string name = spec.substr(0, eq);
  std::string val = spec.substr(eq + 1);
  if (!val.empty() && val.back() == '%') val.pop_back();
  if (!find_metric(name)) {
    std::string known;
    for (const auto& m : metric_catalog()) known += " " + m.name;
    throw Error("--threshold: unknown metric '" + name + "' (known:" + known + ")");
  }
  char* end = nullptr;
  const double v = std::strtod(val.c_str(), &end);
  if (val.empty() || *end || !std::isfinite(v) || v < 0) throw Error("--threshold " + name + ": '" + val + "' is not a percentage >= 0");
  o.threshold_pct[name] = v;
}

namespace {

bool uses_p99(const std::string& metric, const GateOptions& o) { return o.p99 && (metric == "ttft_ms" || metric == "tpot_ms"); }

// Standard error of a sample median is about 1.2533 sigma / sqrt(n); a p99 of a
// few runs is an extreme value, so its noise is taken as a whole sigma.
double stat_noise(const Stat& s, bool p99) {
  if (s.n <= 0) return 0;
  return p99 ? s.stddev : 1.2533 * s.stddev / std::sqrt(double(s.n));
}

}  // namespace

GateResult run_gate(const std::vector<CellMetrics>& baseline, const std::vector<CellMetrics>& current, const GateOptions& o) {
  GateResult g;
  std::map<CellKey, const CellMetrics*> cur;
  for (const auto& c : current) cur[c.key] = &c;
  std::map<CellKey, bool> seen;
  for (const auto& b : baseline) {
    auto it = cur.find(b.key);
    if (it == cur.end()) {
      g.missing.push_back(b.key);
      continue;
    }
    seen[b.key] = true;
    for (const auto& def : metric_catalog()) {
      auto bs = b.stats.find(def.name);
      auto cs = it->second->stats.find(def.name);
      if (bs == b.stats.end() || cs == it->second->stats.end()) continue;
      const bool p99 = uses_p99(def.name, o);
      MetricDelta d;
      d.key = b.key;
      d.metric = def.name + (p99 ? " (p99)" : "");
      d.baseline = p99 ? bs->second.p99 : bs->second.median;
      d.current = p99 ? cs->second.p99 : cs->second.median;
      d.lower_is_better = def.lower_is_better;
      d.threshold_pct = o.threshold_pct.count(def.name) ? o.threshold_pct.at(def.name) : def.threshold_pct;
      const double base_mag = std::fabs(d.baseline) > 0 ? std::fabs(d.baseline) : 1e-300;
      const double diff = d.current - d.baseline;
      const double worse = def.lower_is_better ? diff : -diff;
      d.change_pct = 100.0 * diff / base_mag;
      d.worse_pct = 100.0 * worse / base_mag;
      d.noise = o.noise_sigmas * std::hypot(stat_noise(bs->second, p99), stat_noise(cs->second, p99));
      if (d.worse_pct > d.threshold_pct) {
        d.verdict = worse > d.noise ? Verdict::regression : Verdict::within_noise;
      } else if (-d.worse_pct > d.threshold_pct && -worse > d.noise) {
        d.verdict = Verdict::improved;
      }
      if (d.verdict == Verdict::regression) ++g.regressions;
      g.deltas.push_back(d);
    }
  }
  for (const auto& c : current)
    if (!seen.count(c.key)) g.extra.push_back(c.key);
  g.passed = g.regressions == 0 && !(o.fail_on_missing && !g.missing.empty());
  return g;
}

std::string gate_markdown(const GateResult& g, const GateOptions& o) {
  std::ostringstream s;
  s << "| Model | Backend | Device | Workload | Metric | Better | Baseline | Current | Change | Threshold | Noise | Verdict |\n"
    << "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const auto& d : g.deltas) {
    const MetricDef* def = find_metric(d.metric.substr(0, d.metric.find(' ')));
    const int dec = def ? def->decimals : 3;
    const char* v = d.verdict == Verdict::regression  ? "**REGRESSION**"
                    : d.verdict == Verdict::improved ? "improved"
                    : d.verdict == Verdict::within_noise ? "worse, within noise"
                                                         : "ok";
    s << "| " << d.key.model << " | " << d.key.backend << " | " << d.key.device << " | " << d.key.workload << " | " << d.metric
      << " | " << (d.lower_is_better ? "lower" : "higher") << " | " << format_fixed(d.baseline, dec) << " | "
      << format_fixed(d.current, dec) << " | " << (d.change_pct >= 0 ? "+" : "") << format_fixed(d.change_pct, 1) << "% | "
      << format_fixed(d.threshold_pct, 1) << "% | ±" << format_fixed(d.noise, dec) << " | " << v << " |\n";
  }
  s << "\n";
  for (const auto& k : g.missing) s << "- missing in current run: " << k.to_string() << (o.fail_on_missing ? " (fails the gate)" : "") << "\n";
  for (const auto& k : g.extra) s << "- new in current run (no baseline): " << k.to_string() << "\n";
  if (!g.missing.empty() || !g.extra.empty()) s << "\n";
  s << (o.p99 ? "Latency compared at p99 (asked for). " : "Medians compared. ");
  if (g.passed) s << "**PASS**: no regression beyond thresholds and noise.\n";
  else
    s << "**FAIL**: " << g.regressions << " regression(s)" << (o.fail_on_missing && !g.missing.empty() ? ", missing cells" : "")
      << ".\n";
  return s.str();
}

}  // namespace qbench::report
