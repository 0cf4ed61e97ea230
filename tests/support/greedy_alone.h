#pragma once
// The reference side of the batched-vs-alone tests: every prompt in its own
// sequence (batch 1), prefilled, then `steps` greedy tokens, keeping each
// token and the logits it was picked from.
#include <cstdint>
#include <vector>

#include "engines/model/sampler.h"
#include "engines/model/transformer.h"

namespace qbench::test {

struct GreedyAlone {
  std::vector<std::vector<int32_t>> tokens;               // [prompt][step]
  std::vector<std::vector<std::vector<float>>> logits;    // [prompt][step][vocab]
};

inline GreedyAlone greedy_alone(Transformer& m, const std::vector<std::vector<int32_t>>& prompts, int steps, KvType kv) {
  const int64_t V = m.config().vocab_size;
  GreedyAlone r;
  r.tokens.resize(prompts.size());
  r.logits.resize(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    Sequence s = m.new_sequence(int64_t(prompts[i].size()) + steps, kv);
    std::vector<float> lg;
    m.forward(s, prompts[i].data(), int64_t(prompts[i].size()), LogitsMode::Last, lg);
    for (int t = 0; t < steps; ++t) {
      r.logits[i].push_back(lg);
      int32_t tok = argmax(lg.data(), V);
      r.tokens[i].push_back(tok);
      m.forward(s, &tok, 1, LogitsMode::Last, lg);
    }
  }
  return r;
}

}  // namespace qbench::test
