// Confidence intervals and paired tests against values computed by hand.
#include <catch2/catch.hpp>

#include "workloads/accuracy_stats.h"

using namespace qbench;

TEST_CASE("wilson interval", "[accuracy_stats]") {
  // k=8, n=10, z=1.96: center (0.8 + 1.9208/10)/(1+0.38416) = 0.71674;
  // half = 1.96*sqrt(0.016 + 0.0009604)/1.38416 = 0.18441 -> [0.4902, 0.9433] (textbook value).
  const Interval a = wilson_interval(8, 10);
  CHECK(a.estimate == Approx(0.8));
  CHECK(a.lo == Approx(0.4902).margin(1e-4));
  CHECK(a.hi == Approx(0.9433).margin(1e-4));
  // k=0: lower bound exactly 0, upper z^2/(n+z^2) = 3.8415/23.8415 = 0.16113 for n=20.
  const Interval z = wilson_interval(0, 20);
  CHECK(z.lo == 0);
  CHECK(z.hi == Approx(0.16113).margin(1e-4));
  // k=n mirrors k=0.
  CHECK(wilson_interval(20, 20).lo == Approx(1 - 0.16113).margin(1e-4));
  CHECK(wilson_interval(0, 0).hi == 1);
  CHECK_THROWS(wilson_interval(3, 2));
}

TEST_CASE("macro average", "[accuracy_stats]") {
  // 0.5 (n=4) and 1.0 (n=2): mean 0.75; var = (0.25/4 + 0)/4 = 0.015625, se 0.125.
  const Interval m = macro_average({{2, 4}, {2, 2}, {0, 0}});
  CHECK(m.estimate == Approx(0.75));
  CHECK(m.lo == Approx(0.75 - 1.959964 * 0.125).margin(1e-6));
  CHECK(m.hi == Approx(0.75 + 1.959964 * 0.125).margin(1e-6));
}

TEST_CASE("mcnemar exact p", "[accuracy_stats]") {
  CHECK(mcnemar_exact_p(0, 0) == 1);
  // b=0, c=5: 2 * 0.5^5 = 0.0625.
  CHECK(mcnemar_exact_p(0, 5) == Approx(0.0625));
  // b=2, c=8: 2 * (1 + 10 + 45)/1024 = 0.109375.
  CHECK(mcnemar_exact_p(2, 8) == Approx(0.109375));
  CHECK(mcnemar_exact_p(8, 2) == Approx(0.109375));
  CHECK(mcnemar_exact_p(5, 5) == 1);  // capped
}

TEST_CASE("paired comparison", "[accuracy_stats]") {
  // 10 questions: 5 both right, 1 both wrong, 1 baseline-only, 3 candidate-only.
  std::vector<bool> base = {1, 1, 1, 1, 1, 0, 1, 0, 0, 0};
  std::vector<bool> cand = {1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
  const PairedComparison p = paired_comparison(base, cand);
  CHECK(p.both_right == 5);
  CHECK(p.both_wrong == 1);
  CHECK(p.base_only == 1);
  CHECK(p.cand_only == 3);
  CHECK(p.base_acc == Approx(0.6));
  CHECK(p.cand_acc == Approx(0.8));
  // d = 0.2; var = 4/10 - 0.04 = 0.36; se = sqrt(0.036) = 0.189737.
  CHECK(p.diff.estimate == Approx(0.2));
  CHECK(p.diff.lo == Approx(0.2 - 1.959964 * 0.189737).margin(1e-5));
  CHECK(p.diff.hi == Approx(0.2 + 1.959964 * 0.189737).margin(1e-5));
  // b=1, c=3: 2*(1+4)/16 = 0.625.
  CHECK(p.mcnemar_p == Approx(0.625));
  CHECK_THROWS(paired_comparison({true}, {true, false}));
}
