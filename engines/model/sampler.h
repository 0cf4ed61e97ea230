#pragma once
// Picks the next token from a logit vector: greedy (argmax, lowest id on ties,
// as llama.cpp and transformers do) or temperature + top-p with a seeded RNG.
#include <cstdint>
#include <random>
#include <vector>

namespace qbench {

struct SamplerParams {
  float temperature = 0.f;  // 0 = greedy
  float top_p = 1.f;
  uint64_t seed = 0;
  // The largest logit, lowest id on ties (argmax()): what a device can pick where the logits are.
  bool greedy() const { return temperature == 0.f; }
};

class Sampler {
 public:
  explicit Sampler(SamplerParams p);
  int32_t sample(const float* logits, int64_t vocab);

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace qbench
