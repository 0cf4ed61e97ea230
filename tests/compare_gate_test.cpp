// The regression gate: direction, thresholds, noise, missing/extra cells,
// and the exit codes of `qbench compare` (tests/compare_cli_test.sh).
#include <catch2/catch.hpp>

#include <cmath>

#include "engines/core/error.h"
#include "reports/cell_metrics.h"
#include "reports/regression_gate.h"

using namespace qbench::report;

namespace {

const std::string kData = std::string(QBENCH_SOURCE_DIR) + "/tests/data/results";

CellMetrics cell(const std::string& backend, const std::string& metric, double median, double stddev, int n) {
  CellMetrics c;
  c.key = {"m", backend, "cpu", "latency p512 g256"};
  c.stats[metric] = Stat{median, stddev, median - stddev, median + stddev, median + 2 * stddev, n};
  return c;
}

const MetricDelta& delta(const GateResult& g, const std::string& backend, const std::string& metric) {
  for (const auto& d : g.deltas)
    if (d.key.backend == backend && d.metric == metric) return d;
  FAIL("no delta for " << backend << " " << metric);
  return g.deltas.front();
}

}  // namespace

TEST_CASE("gate direction: lower TTFT and higher tokens/s are better", "[compare]") {
  GateOptions o;
  // TTFT up 20 %: regression. Same change in tokens/s: improvement.
  auto g = run_gate({cell("a", "ttft_ms", 100, 0, 5)}, {cell("a", "ttft_ms", 120, 0, 5)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
  CHECK(g.deltas.at(0).change_pct == Approx(20.0));
  CHECK_FALSE(g.passed);
  g = run_gate({cell("a", "decode_tokens_per_s", 100, 0, 5)}, {cell("a", "decode_tokens_per_s", 120, 0, 5)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::improved);
  CHECK(g.passed);
  g = run_gate({cell("a", "decode_tokens_per_s", 100, 0, 5)}, {cell("a", "decode_tokens_per_s", 80, 0, 5)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
  // Lower accuracy is worse.
  g = run_gate({cell("a", "mmlu_accuracy", 50, 0, 1)}, {cell("a", "mmlu_accuracy", 45, 0, 1)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
  g = run_gate({cell("a", "mmlu_accuracy", 50, 0, 1)}, {cell("a", "mmlu_accuracy", 55, 0, 1)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::improved);
}

TEST_CASE("gate thresholds are per metric and overridable", "[compare]") {
  GateOptions o;
  // 8 % slower TTFT is inside the default 10 % threshold.
  auto g = run_gate({cell("a", "ttft_ms", 100, 0, 5)}, {cell("a", "ttft_ms", 108, 0, 5)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::ok);
  CHECK(g.passed);
  parse_threshold("ttft_ms=5%", o);
  CHECK(o.threshold_pct.at("ttft_ms") == 5.0);
  g = run_gate({cell("a", "ttft_ms", 100, 0, 5)}, {cell("a", "ttft_ms", 108, 0, 5)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
  CHECK(g.deltas.at(0).threshold_pct == 5.0);
  CHECK_THROWS_WITH(parse_threshold("latency=5", o), Catch::Contains("unknown metric 'latency'"));
  CHECK_THROWS_WITH(parse_threshold("ttft_ms=abc", o), Catch::Contains("not a percentage"));
  CHECK_THROWS_WITH(parse_threshold("ttft_ms", o), Catch::Contains("metric=percent"));
  CHECK_THROWS(parse_threshold("ttft_ms=-1", o));
}

TEST_CASE("gate: changes inside the repetitions' noise do not fail", "[compare]") {
  GateOptions o;
  // +15 % median, but runs scatter by sd 30 over 3 runs: standard error of each
  // median ~ 1.25*30/sqrt(3) = 21.7, two-sigma band of the difference ~ 61 > 15.
  auto g = run_gate({cell("a", "ttft_ms", 100, 30, 3)}, {cell("a", "ttft_ms", 115, 30, 3)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::within_noise);
  CHECK(g.deltas.at(0).noise == Approx(2 * std::hypot(1.2533 * 30 / std::sqrt(3.0), 1.2533 * 30 / std::sqrt(3.0))));
  CHECK(g.passed);
  // The same +15 % with tight runs is real.
  g = run_gate({cell("a", "ttft_ms", 100, 1, 3)}, {cell("a", "ttft_ms", 115, 1, 3)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
  // --noise-sigmas 0 turns noise handling off.
  o.noise_sigmas = 0;
  g = run_gate({cell("a", "ttft_ms", 100, 30, 3)}, {cell("a", "ttft_ms", 115, 30, 3)}, o);
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
}

TEST_CASE("gate compares medians by default and p99 only when asked", "[compare]") {
  // Same median, p99 (median + 2 sd) much worse.
  GateOptions o;
  auto g = run_gate({cell("a", "ttft_ms", 100, 1, 5)}, {cell("a", "ttft_ms", 100, 40, 5)}, o);
  CHECK(g.deltas.at(0).metric == "ttft_ms");
  CHECK(g.deltas.at(0).verdict == Verdict::ok);
  o.p99 = true;
  o.noise_sigmas = 0;
  g = run_gate({cell("a", "ttft_ms", 100, 1, 5)}, {cell("a", "ttft_ms", 100, 40, 5)}, o);
  CHECK(g.deltas.at(0).metric == "ttft_ms (p99)");
  CHECK(g.deltas.at(0).baseline == Approx(102));
  CHECK(g.deltas.at(0).current == Approx(180));
  CHECK(g.deltas.at(0).verdict == Verdict::regression);
}

TEST_CASE("gate reports missing and extra cells", "[compare]") {
  GateOptions o;
  auto g = run_gate({cell("a", "ttft_ms", 100, 0, 5), cell("b", "ttft_ms", 100, 0, 5)},
                    {cell("a", "ttft_ms", 100, 0, 5), cell("c", "ttft_ms", 100, 0, 5)}, o);
  REQUIRE(g.missing.size() == 1);
  CHECK(g.missing[0].backend == "b");
  REQUIRE(g.extra.size() == 1);
  CHECK(g.extra[0].backend == "c");
  CHECK(g.passed);  // a missing cell is reported, not a regression ...
  o.fail_on_missing = true;
  g = run_gate({cell("a", "ttft_ms", 100, 0, 5), cell("b", "ttft_ms", 100, 0, 5)}, {cell("a", "ttft_ms", 100, 0, 5)}, o);
  CHECK_FALSE(g.passed);  // ... unless asked
  const std::string md = gate_markdown(g, o);
  CHECK(md.find("missing in current run: m / b / cpu") != std::string::npos);
  CHECK(md.find("**FAIL**") != std::string::npos);
}

TEST_CASE("gate on the result files in tests/data/results", "[compare]") {
  const auto base = all_cell_metrics(load_results({kData + "/baseline"}));
  const auto cur = all_cell_metrics(load_results({kData + "/current"}));
  GateOptions o;
  const auto g = run_gate(base, cur, o);
  // fp16: TTFT 100 -> 130 with tight runs: the one real regression.
  CHECK(delta(g, "fp16", "ttft_ms").verdict == Verdict::regression);
  CHECK(delta(g, "fp16", "decode_tokens_per_s").verdict == Verdict::ok);
  // Prefill speed is prompt / TTFT: the same slowdown, seen from the other side.
  CHECK(delta(g, "fp16", "prefill_tokens_per_s").verdict == Verdict::regression);
  CHECK(delta(g, "fp16", "prefill_tokens_per_s").change_pct == Approx(100.0 * (512 / 0.13 - 512 / 0.1) / (512 / 0.1)));
  // q8_0: TTFT median 70 -> 75 (+7 %) inside the threshold; decode 30 -> 36 improved.
  CHECK(delta(g, "gguf-q8_0", "ttft_ms").verdict == Verdict::ok);
  CHECK(delta(g, "gguf-q8_0", "decode_tokens_per_s").verdict == Verdict::improved);
  CHECK(delta(g, "gguf-q8_0", "tpot_ms").verdict == Verdict::improved);
  CHECK(g.regressions == 2);
  CHECK_FALSE(g.passed);
  REQUIRE(g.missing.size() == 1);
  CHECK(g.missing[0].backend == "gguf-q4_k_m");
  REQUIRE(g.extra.size() == 1);
  CHECK(g.extra[0].backend == "gguf-q5_k_s");
  // Loosening the TTFT and prefill gates to 40 % passes the build.
  GateOptions loose;
  parse_threshold("ttft_ms=40", loose);
  parse_threshold("prefill_tokens_per_s=40", loose);
  CHECK(run_gate(base, cur, loose).passed);
}
