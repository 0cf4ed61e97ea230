// A real throughput result (qbench run --workload throughput --sweep concurrency=1,4 on a tiny
// synthetic model, arrays trimmed) feeds the report's throughput-vs-concurrency curve.
#include <catch2/catch.hpp>

#include "reports/cell_metrics.h"
#include "reports/result_set.h"
#include "tests/support/test_paths.h"

using namespace qbench::report;

TEST_CASE("throughput sweep results give the concurrency curve", "[report]") {
  const auto files = load_results({qbench::test::repo_root() + "/tests/data/results/throughput"});
  REQUIRE(files.size() == 1);
  const auto cells = all_cell_metrics(files);
  REQUIRE(cells.size() == 1);
  const auto& c = cells[0].concurrency;
  REQUIRE(c.size() == 2);
  CHECK(c[0].first == 1);
  CHECK(c[0].second == Approx(4.970938807445646));
  CHECK(c[1].first == 4);
  CHECK(c[1].second == Approx(12.172590953897265));
}
