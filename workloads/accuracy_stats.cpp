#include "workloads/accuracy_stats.h"

#include <algorithm>
#include <cmath>

#include "engines/core/error.h"

namespace qbench {

Interval wilson_interval(int64_t k, int64_t n, double z) {
  if (k < 0 || n < 0 || k > n) throw Error("wilson_interval: need 0 <= k <= n (k " + std::to_string(k) + ", n " + std::to_string(n) + ")");
  if (n == 0) return {0, 0, 1};
  const double nn = double(n), p = double(k) / nn, z2 = z * z;
  const double denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
  return {p, std::max(0.0, center - half), std::min(1.0, center + half)};
}

Interval macro_average(const std::vector<GroupCount>& groups, double z) {
  double sum = 0, var = 0;
  int64_t s = 0;
  for (auto& g : groups) {
    if (g.total <= 0) continue;
    const double p = double(g.correct) / double(g.total);
    sum += p;
    var += p * (1 - p) / double(g.total);
    ++s;
  }
  if (s == 0) return {0, 0, 1};
  const double mean = sum / double(s), se = std::sqrt(var) / double(s);
  return {mean, std::max(0.0, mean - z * se), std::min(1.0, mean + z * se)};
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // Sum of C(n, i) / 2^n for i <= k, in log space (n can be thousands).
  double tail = 0;
  for (int64_t i = 0; i <= k; ++i)
    tail += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) -
                     double(n) * std::log(2.0));
  return std::min(1.0, 2 * tail);
}

PairedComparison paired_comparison(const std::vector<bool>& base, const std::vector<bool>& cand, double z) {
  if (base.size() != cand.size()) throw Error("paired_comparison: the two runs cover a different number of questions");
  PairedComparison r;
  r.n = int64_t(base.size());
  for (size_t i = 0; i < base.size(); ++i) {
    if (base[i] && cand[i]) ++r.both_right;
    else if (!base[i] && !cand[i]) ++r.both_wrong;
    else if (base[i]) ++r.base_only;
    else ++r.cand_only;
  }
  if (r.n == 0) return r;
  const double n = double(r.n);
  r.base_acc = double(r.both_right + r.base_only) / n;
  r.cand_acc = double(r.both_right + r.cand_only) / n;
  const double d = r.cand_acc - r.base_acc;
  // Per-question difference d_i in {-1, 0, +1}: E[d_i^2] = (b + c) / n; SE of the mean = sqrt(var / n).
  const double var = double(r.base_only + r.cand_only) / n - d * d;
  const double se = std::sqrt(std::max(0.0, var) / n);
  r.diff = {d, d - z * se, d + z * se};
  r.mcnemar_p = mcnemar_exact_p(r.base_only, r.cand_only);
  return r;
}

nlohmann::json PairedComparison::to_json() const {
  return {{"paired_questions", n},
          {"baseline_accuracy", base_acc},
          {"accuracy", cand_acc},
          {"accuracy_change_points", diff.estimate * 100},
          {"accuracy_change_points_ci95", {diff.lo * 100, diff.hi * 100}},
          {"both_right", both_right},
          {"both_wrong", both_wrong},
          {"baseline_right_only", base_only},
          {"candidate_right_only", cand_only},
          {"mcnemar_exact_p", mcnemar_p}};
}

}  // namespace qbench
