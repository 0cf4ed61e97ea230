// Golden tests: the fixed result files in tests/data/results/quant-table render
// to the checked-in Markdown / CSV. Regenerate after an intended format change:
//   QBENCH_UPDATE_GOLDEN=1 ./build/tests/qbench_tests "[report]"   (then review the diff)
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engines/core/error.h"
#include "reports/cell_metrics.h"
#include "reports/result_set.h"
#include "reports/tradeoff_table.h"

using namespace qbench::report;

namespace {

const std::string kData = std::string(QBENCH_SOURCE_DIR) + "/tests/data/results";

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_golden(const std::string& actual, const std::string& name) {
  const std::string path = kData + "/expected/" + name;
  if (std::getenv("QBENCH_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << actual;
    WARN("rewrote " << path);
  }
  CHECK(actual == slurp(path));
}

std::vector<TradeoffRow> golden_rows() {
  return build_tradeoff(all_cell_metrics(load_results({kData + "/quant-table"})));
}

const TradeoffRow& row(const std::vector<TradeoffRow>& rows, const std::string& backend) {
  for (const auto& r : rows)
    if (r.m.key.backend == backend) return r;
  FAIL("no row for " << backend);
  return rows.front();
}

}  // namespace

TEST_CASE("trade-off rows pool repetitions and join accuracy results", "[report]") {
  const auto rows = golden_rows();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].m.key.backend == "fp16");  // baseline first
  const auto& fp = row(rows, "fp16");
  CHECK(fp.m.stats.at("ttft_ms").median == Approx(120.0));
  CHECK(fp.m.stats.at("ttft_ms").stddev == Approx(10.0));
  CHECK(fp.m.stats.at("tpot_ms").median == Approx(50.0));
  CHECK(fp.m.stats.at("memory_mb").median == Approx(1004.582912));
  // Two files of the q4_k_m cell pool into one distribution of 3 runs.
  const auto& q4 = row(rows, "gguf-q4_k_m");
  CHECK(q4.m.files == 2);
  CHECK(q4.m.stats.at("ttft_ms").n == 3);
  CHECK(q4.m.stats.at("ttft_ms").median == Approx(81.0));
  CHECK(q4.m.stats.at("decode_tokens_per_s").median == Approx(45.0));
  REQUIRE(q4.mmlu_drop_pp);
  CHECK(*q4.mmlu_drop_pp == Approx(47.5 - 46.2));
  CHECK(q4.baseline_backend == "fp16");
  CHECK(q4.m.stats.at("kl_mean").median == Approx(0.0412));
  CHECK(q4.m.stats.at("top1_agreement").median == Approx(91.2));
  // Summary-only file: its p50 and stddev; no accuracy measured.
  const auto& awq = row(rows, "awq-int4");
  CHECK(awq.m.stats.at("ttft_ms").median == Approx(95.0));
  CHECK(awq.m.stats.at("ttft_ms").stddev == Approx(2.0));
  CHECK_FALSE(awq.m.stats.count("mmlu_accuracy"));
  CHECK_FALSE(awq.mmlu_drop_pp);
}

TEST_CASE("trade-off table renders to the golden Markdown and CSV", "[report]") {
  const auto rows = golden_rows();
  check_golden(tradeoff_markdown(rows, Lang::en), "tradeoff.md");
  check_golden(tradeoff_markdown(rows, Lang::zh), "tradeoff.zh.md");
  check_golden(tradeoff_csv(rows), "tradeoff.csv");
  const auto j = tradeoff_json(rows);
  REQUIRE(j["rows"].size() == 3);
  CHECK(j["rows"][2]["metrics"]["ttft_ms"]["median"].get<double>() == Approx(81.0));
}

TEST_CASE("missing columns render as a dash", "[report]") {
  const auto md = tradeoff_markdown(golden_rows(), Lang::en);
  // The AWQ row has no accuracy, KL or perplexity.
  const auto line_start = md.find("| qwen2.5-0.5b | awq-int4 |");
  REQUIRE(line_start != std::string::npos);
  const std::string line = md.substr(line_start, md.find('\n', line_start) - line_start);
  CHECK(line.find("| – | – | – | – |") != std::string::npos);
  CHECK(format_stat(std::nullopt, 2) == "–");
}

TEST_CASE("report input errors are clear", "[report]") {
  const std::string dir = std::string(QBENCH_SOURCE_DIR) + "/tests/data/results";
  CHECK_THROWS_WITH(load_result_file(dir + "/nope.json"), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(load_results({dir + "/nope"}), Catch::Contains("no such result file"));
  const std::string tmp = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/qbench_report_bad.json";
  std::ofstream(tmp) << "{\"schema\": \"something.else\"}";
  CHECK_THROWS_WITH(load_result_file(tmp), Catch::Contains("not a qbench result"));
  std::ofstream(tmp) << "{not json";
  CHECK_THROWS_WITH(load_result_file(tmp), Catch::Contains("not valid JSON"));
  std::ofstream(tmp) << R"({"schema":"qbench.result","schema_version":1,"model":{},"workload":{"workload":"latency","runs":[{"ttft_ms":"x"}],"summary":5}})";
  // Wrongly typed fields are skipped, never a crash.
  const auto cells = all_cell_metrics({load_result_file(tmp)});
  REQUIRE(cells.size() == 1);
  CHECK(cells[0].stats.empty());
  std::remove(tmp.c_str());
}
