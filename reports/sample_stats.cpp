#include "reports/sample_stats.h"

#include <algorithm>
#include <cmath>

namespace qbench::report {

double percentile_of(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - double(lo));
}

std::optional<Stat> stat_of(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  Stat s;
  s.n = int(v.size());
  s.median = percentile_of(v, 50);
  s.p99 = percentile_of(v, 99);
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  double mean = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  s.stddev = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : 0.0;
  return s;
}

}  // namespace qbench::report
