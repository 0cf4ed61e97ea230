#pragma once
// The requests of a serving benchmark: their prompt/output lengths (fixed or
// drawn from a distribution) and their arrival times (all at once under a
// fixed concurrency, or a Poisson process at a given rate). Seeded: the same
// parameters give the same requests.
#include <cstdint>
#include <string>
#include <vector>

namespace qbench {

// "512" (fixed), "uniform:256:768", "normal:512:128" (mean:stddev, clamped to >= 1).
struct LengthDist {
  std::string kind = "fixed";
  double a = 0, b = 0;
  static LengthDist parse(const std::string& spec);
  std::string to_string() const;
};

struct RequestSpec {
  int64_t id;
  int64_t prompt_tokens;
  int64_t gen_tokens;
  double arrival_s;  // seconds after the start; 0 for closed-loop (concurrency) arrival
};

std::vector<RequestSpec> make_requests(int64_t n, const LengthDist& prompt, const LengthDist& gen, double rate_per_s,
                                       uint64_t seed);

}  // namespace qbench
