#pragma once
// Median and spread of repeated measurements, as the report tables show them.
// Reports compute their own statistics from the samples in result files so
// that repetitions spread over several files pool correctly.
#include <optional>
#include <vector>

namespace qbench::report {

struct Stat {
  double median = 0, stddev = 0, min = 0, max = 0;
  double p99 = 0;
  int n = 0;  // samples behind the numbers (runs, or questions for accuracy)
};

// numpy.percentile "linear"; v must be non-empty, p in [0, 100].
double percentile_of(std::vector<double> v, double p);

// nullopt when there are no samples.
std::optional<Stat> stat_of(const std::vector<double>& samples);

}  // namespace qbench::report
