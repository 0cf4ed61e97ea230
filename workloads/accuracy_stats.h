#pragma once
// Statistics that tell a real accuracy change from noise.
//  - Wilson score interval for one accuracy (k of n correct): well behaved at
//    small n and near 0 or 1, where the normal interval is not.
//  - Macro average (mean of per-subject accuracies) with a normal interval whose
//    variance is sum_i p_i(1-p_i)/n_i / S^2 (subjects independent).
//  - Paired comparison of two runs on the same questions: the difference in
//    accuracy with a normal interval over per-question differences d_i in
//    {-1,0,+1}, and McNemar's exact test on the discordant pairs.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench {

constexpr double kZ95 = 1.959963984540054;  // two-sided 95% normal quantile

struct Interval {
  double estimate = 0, lo = 0, hi = 0;
  nlohmann::json to_json() const { return {{"estimate", estimate}, {"ci95_lo", lo}, {"ci95_hi", hi}}; }
};

// k of n; n == 0 gives {0, 0, 1}. Throws qbench::Error when k > n or counts are negative.
Interval wilson_interval(int64_t k, int64_t n, double z = kZ95);

struct GroupCount {
  int64_t correct = 0, total = 0;
};
// Mean of the groups' accuracies (groups with total 0 are skipped).
Interval macro_average(const std::vector<GroupCount>& groups, double z = kZ95);

struct PairedComparison {
  int64_t n = 0;
  int64_t both_right = 0, both_wrong = 0;
  int64_t base_only = 0;  // baseline right, candidate wrong (b)
  int64_t cand_only = 0;  // baseline wrong, candidate right (c)
  double base_acc = 0, cand_acc = 0;
  Interval diff;             // cand_acc - base_acc, as a fraction
  double mcnemar_p = 1;      // exact two-sided binomial test of b vs c
  nlohmann::json to_json() const;
};
// base[i], cand[i]: whether question i was answered correctly by each run.
PairedComparison paired_comparison(const std::vector<bool>& base, const std::vector<bool>& cand, double z = kZ95);

// Exact two-sided McNemar p-value: 2 * P(X <= min(b, c)), X ~ Binomial(b + c, 1/2), capped at 1.
double mcnemar_exact_p(int64_t b, int64_t c);

}  // namespace qbench
