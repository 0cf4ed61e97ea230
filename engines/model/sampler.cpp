#include "engines/model/sampler.h"

#include <algorithm>
#include <cmath>

#include "engines/core/error.h"

namespace qbench {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return int32_t(best);
}

Sampler::Sampler(SamplerParams p) : p_(p), rng_(p.seed) {
  if (p_.temperature < 0 || !std::isfinite(p_.temperature)) throw Error("temperature must be >= 0");
  if (!(p_.top_p > 0 && p_.top_p <= 1)) throw Error("top_p must be in (0, 1]");
}

int32_t Sampler::sample(const float* logits, int64_t vocab) {
  if (p_.greedy()) return argmax(logits, vocab);
  // Softmax at temperature T over all ids, then the smallest set whose mass reaches top_p.
  cand_.resize(size_t(vocab));
  float mx = logits[argmax(logits, vocab)];
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const float e = std::exp((logits[i] - mx) / p_.temperature);
    cand_[i] = {e, int32_t(i)};
    sum += e;
  }
  std::sort(cand_.begin(), cand_.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  size_t keep = 0;
  double mass = 0;
  while (keep < cand_.size()) {
    mass += cand_[keep++].first / sum;
    if (mass >= p_.top_p) break;
  }
  std::uniform_real_distribution<double> u(0.0, mass);
  double r = u(rng_), acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += cand_[i].first / sum;
    if (r < acc) return cand_[i].second;
  }
  return cand_[keep - 1].second;
}

}  // namespace qbench
