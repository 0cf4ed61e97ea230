#include "harness/measure/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engines/core/error.h"

namespace qbench {

namespace {

// numpy "linear": rank h = (n - 1) * p / 100, interpolate between floor(h) and floor(h) + 1.
double percentile_of_sorted(const std::vector<double>& s, double p) {
  const double h = (double(s.size()) - 1.0) * p / 100.0;
  const size_t lo = size_t(std::floor(h));
  if (lo + 1 >= s.size()) return s.back();
  return s[lo] + (h - double(lo)) * (s[lo + 1] - s[lo]);
}

void check_percentile_args(size_t n, double p) {
  if (n == 0) throw Error("percentile of an empty sample");
  if (!(p >= 0.0 && p <= 100.0)) throw Error("percentile " + std::to_string(p) + " is outside [0, 100]");
}

}  // namespace

double percentile(std::vector<double> v, double p) {
  check_percentile_args(v.size(), p);
  std::sort(v.begin(), v.end());
  return percentile_of_sorted(v, p);
}

Summary summarize(const std::vector<double>& v) {
  if (v.empty()) throw Error("summary of an empty sample");
  std::vector<double> s(v);
  std::sort(s.begin(), s.end());
  const double n = double(s.size());
  const double mean = std::accumulate(s.begin(), s.end(), 0.0) / n;
  double ss = 0.0;
  for (double x : s) ss += (x - mean) * (x - mean);
  Summary r;
  r.n = s.size();
  r.mean = mean;
  r.stddev = s.size() > 1 ? std::sqrt(ss / (n - 1.0)) : 0.0;
  r.min = s.front();
  r.max = s.back();
  r.p50 = percentile_of_sorted(s, 50);
  r.p90 = percentile_of_sorted(s, 90);
  r.p99 = percentile_of_sorted(s, 99);
  return r;
}

nlohmann::json Summary::to_json() const {
  return {{"n", n},     {"mean", mean}, {"stddev", stddev}, {"min", min},
          {"max", max}, {"p50", p50},   {"p90", p90},       {"p99", p99}};
}

}  // namespace qbench
