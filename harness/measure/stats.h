#pragma once
// Summaries of repeated samples (latencies in ms, rates, ...).
#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench {

struct Summary {
  size_t n;
  double mean;
  double stddev;  // sample standard deviation (n - 1 denominator); 0 for a single sample
  double min, max;
  double p50, p90, p99;
  nlohmann::json to_json() const;
};

// p-th percentile, p in [0, 100], interpolating linearly between the closest
// ranks (numpy.percentile's default "linear" method). Throws qbench::Error on
// empty input or p outside [0, 100].
double percentile(std::vector<double> v, double p);

// Throws qbench::Error on empty input.
Summary summarize(const std::vector<double>& v);

}  // namespace qbench
