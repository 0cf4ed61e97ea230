#include "workloads/request_source.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "engines/core/error.h"

namespace qbench {

LengthDist LengthDist::parse(const std::string& spec) {
  LengthDist d;
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  auto num = [&](const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end || !(v >= 0)) throw Error("length distribution '" + spec + "': '" + s + "' is not a number >= 0");
    return v;
  };
  if (parts.size() == 1) {
    d.kind = "fixed";
    d.a = num(parts[0]);
    if (d.a < 1) throw Error("length '" + spec + "' must be at least 1");
  } else if (parts.size() == 3 && (parts[0] == "uniform" || parts[0] == "normal")) {
    d.kind = parts[0];
    d.a = num(parts[1]);
    d.b = num(parts[2]);
    if (d.kind == "uniform" && (d.a < 1 || d.b < d.a)) throw Error("uniform:LO:HI needs 1 <= LO <= HI ('" + spec + "')");
    if (d.kind == "normal" && d.a < 1) throw Error("normal:MEAN:STD needs MEAN >= 1 ('" + spec + "')");
  } else {
    throw Error("length distribution '" + spec + "': use N, uniform:LO:HI or normal:MEAN:STD");
  }
  return d;
}

std::string LengthDist::to_string() const {
  std::ostringstream o;
  if (kind == "fixed") o << int64_t(a);
  else o << kind << ":" << a << ":" << b;
  return o.str();
}

std::vector<RequestSpec> make_requests(int64_t n, const LengthDist& prompt, const LengthDist& gen, double rate,
                                       uint64_t seed) {
  if (n <= 0) throw Error("--requests must be positive");
  std::mt19937_64 rng(seed);
  auto draw = [&](const LengthDist& d) -> int64_t {
    if (d.kind == "fixed") return int64_t(d.a);
    if (d.kind == "uniform") return std::uniform_int_distribution<int64_t>(int64_t(d.a), int64_t(d.b))(rng);
    return std::max<int64_t>(1, int64_t(std::llround(std::normal_distribution<double>(d.a, d.b)(rng))));
  };
  std::exponential_distribution<double> gap(rate > 0 ? rate : 1.0);
  std::vector<RequestSpec> out;
  double t = 0;
  for (int64_t i = 0; i < n; ++i) {
    RequestSpec r{i, draw(prompt), draw(gen), 0.0};
    if (rate > 0) {
      t += gap(rng);  // Poisson process: exponential gaps
      r.arrival_s = t;
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace qbench
