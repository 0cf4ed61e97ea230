// qbench report's charts, cost view and HTML page on the golden results:
// gnuplot writes PNGs of the requested size (read from the IHDR header),
// the HTML page is self-contained and embeds every chart, a missing gnuplot
// leaves the tables and a clear note instead of failing.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/core/error.h"
#include "reports/cost_efficiency.h"
#include "reports/gnuplot_charts.h"
#include "reports/report_writer.h"

using namespace qbench::report;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(QBENCH_SOURCE_DIR) + "/tests/data/results";

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fresh_dir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("qbench_report_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d.string();
}

uint32_t be32(const std::string& s, size_t off) {
  return (uint32_t(uint8_t(s[off])) << 24) | (uint32_t(uint8_t(s[off + 1])) << 16) | (uint32_t(uint8_t(s[off + 2])) << 8) |
         uint32_t(uint8_t(s[off + 3]));
}

std::vector<TradeoffRow> golden_rows() { return build_tradeoff(all_cell_metrics(load_results({kData + "/quant-table"}))); }

}  // namespace

TEST_CASE("pareto front: lower loss and higher speed", "[report][charts]") {
  // (loss, speed): b dominates d; a, b, c trade off.
  const auto f = pareto_front({{0.0, 20}, {1.3, 45}, {2.0, 50}, {1.5, 40}});
  CHECK(f == std::vector<size_t>{0, 1, 2});
  CHECK(pareto_front({{1, 1}, {1, 1}}) == std::vector<size_t>{0, 1});  // ties: both stay
}

TEST_CASE("gnuplot draws every chart as PNG of the requested size and SVG", "[report][charts]") {
  if (!gnuplot_available("gnuplot")) {
    if (std::getenv("CI")) FAIL("gnuplot is not installed (scripts/setup.sh installs gnuplot-nox)");
    WARN("SKIPPED: gnuplot not installed");
    return;
  }
  const std::string dir = fresh_dir("charts");
  const auto charts = draw_charts(golden_rows(), {dir, Lang::en, 800, 500, "gnuplot"});
  std::set<std::string> names;
  for (const auto& c : charts) names.insert(c.name);
  // No throughput-vs-concurrency data in these results: that chart is left out.
  CHECK(names == std::set<std::string>{"pareto", "memory", "ttft", "tpot"});
  for (const auto& c : charts) {
    const std::string png = slurp(c.png);
    REQUIRE(png.size() > 33);
    CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    CHECK(png.substr(12, 4) == "IHDR");
    CHECK(be32(png, 16) == 800);
    CHECK(be32(png, 20) == 500);
    const std::string svg = slurp(c.svg);
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
  }
  // The Pareto data marks fp16 and q4_k_m (AWQ has no accuracy, so no x value).
  const std::string dat = slurp(dir + "/data/pareto.dat");
  CHECK(dat.find("\"gguf-q4_k_m\"") != std::string::npos);
  CHECK(dat.find("awq") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a missing gnuplot gives a clear message and the tables", "[report][charts]") {
  const std::string dir = fresh_dir("nognuplot");
  ReportOptions o;
  o.out_dir = dir;
  o.gnuplot = "/nonexistent/gnuplot";
  const auto out = write_report(load_results({kData + "/quant-table"}), o);
  REQUIRE(out.warnings.size() == 1);
  CHECK(out.warnings[0].find("gnuplot not found") != std::string::npos);
  CHECK(out.warnings[0].find("gnuplot-nox") != std::string::npos);
  CHECK(fs::exists(dir + "/tradeoff.md"));
  const std::string html = slurp(dir + "/index.html");
  CHECK(html.find("charts skipped") != std::string::npos);
  CHECK(html.find("<table id=\"tradeoff\">") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("HTML page embeds the tables and every chart's SVG", "[report][html]") {
  if (!gnuplot_available("gnuplot")) {
    if (std::getenv("CI")) FAIL("gnuplot is not installed");
    WARN("SKIPPED: gnuplot not installed");
    return;
  }
  const std::string dir = fresh_dir("html");
  ReportOptions o;
  o.out_dir = dir;
  o.price_file = std::string(QBENCH_SOURCE_DIR) + "/prices/example.json";
  const auto out = write_report(load_results({kData + "/quant-table"}), o);
  CHECK(out.warnings.empty());
  const std::string html = slurp(dir + "/index.html");
  for (const char* id : {"chart-pareto", "chart-memory", "chart-ttft", "chart-tpot"})
    CHECK(html.find(std::string("<figure id=\"") + id + "\">\n<svg") != std::string::npos);
  // Self-contained: no external references, no second XML prolog.
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("<?xml") == std::string::npos);
  CHECK(html.find("<!DOCTYPE svg") == std::string::npos);
  // Tags balance (the page is also well-formed XML: tests/report_cli_test.sh parses it).
  for (const char* t : {"table", "figure", "svg", "tr", "thead", "tbody"}) {
    size_t open = 0, close = 0;
    for (size_t p = 0; (p = html.find(std::string("<") + t, p)) != std::string::npos; ++p)
      if (html[p + 1 + std::strlen(t)] == ' ' || html[p + 1 + std::strlen(t)] == '>') ++open;
    for (size_t p = 0; (p = html.find(std::string("</") + t + ">", p)) != std::string::npos; ++p) ++close;
    CHECK(open == close);
  }
  CHECK(html.find("<table id=\"cost\">") != std::string::npos);
  CHECK(html.find("<table id=\"recommendations\">") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("cost efficiency from a price file", "[report][cost]") {
  const auto rows = golden_rows();
  const auto prices = parse_price_table(nlohmann::json::parse(R"({"devices": {"Golden CPU 9000": {"price_per_hour": 0.5, "currency": "EUR"},
                                                                              "cpu": {"price_per_hour": 9, "currency": "USD"}}})"),
                                        "test");
  const auto costs = cost_rows(rows, prices);
  REQUIRE(costs.size() == 3);
  // The CPU model name wins over the device kind.
  CHECK(costs[0].price_key == "Golden CPU 9000");
  // fp16: 20 tokens/s at 0.5 EUR/h: index 40, 0.5 / (20 * 3600) * 1e6 = 6.944 EUR per 1M tokens,
  // one request = 120 ms + 255 * 50 ms = 12870 ms -> 86400000 / 12870 = 6713 requests/day.
  CHECK(*costs[0].index == Approx(40.0));
  CHECK(*costs[0].cost_per_mtok == Approx(0.5 / (20 * 3600.0) * 1e6));
  CHECK(*costs[0].requests_per_day == Approx(86400e3 / (120 + 255 * 50.0)));
  // AWQ has no TPOT (summary without it): no request estimate, still an index.
  CHECK_FALSE(costs[1].requests_per_day);
  CHECK(*costs[1].index == Approx(76.0));
  const auto recs = recommend(rows, costs, Lang::en);
  REQUIRE(recs.size() == 4);
  CHECK(rows[*recs[0].row].m.key.backend == "gguf-q4_k_m");  // lowest latency: 81 + 255 * 22.2 ms
  CHECK(rows[*recs[1].row].m.key.backend == "gguf-q4_k_m");  // smallest memory: 413.6 MB
  CHECK(rows[*recs[2].row].m.key.backend == "fp16");         // highest fidelity: MMLU 47.5 %
  CHECK(recs[2].rule.find("MMLU") != std::string::npos);
  CHECK(rows[*recs[3].row].m.key.backend == "gguf-q4_k_m");  // best cost: 45 tok/s / 0.5
  CHECK(recommendations_markdown(rows, recs, Lang::zh).find("最佳性价比") != std::string::npos);
  CHECK_THROWS_WITH(parse_price_table(nlohmann::json::parse(R"({"devices": {"x": {"price_per_hour": -1, "currency": "USD"}}})"), "p.json"),
                    Catch::Contains("p.json: devices.\"x\": price_per_hour must be positive"));
  CHECK_THROWS_WITH(parse_price_table(nlohmann::json::parse(R"({"devices": {"x": {"price_per_hour": 1}}})"), "p.json"),
                    Catch::Contains("currency"));
  CHECK_THROWS(parse_price_table(nlohmann::json::parse("[]"), "p.json"));
}
