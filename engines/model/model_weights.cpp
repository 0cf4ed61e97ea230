#include "engines/model/model_weights.h"

#include <map>

namespace qbench {

template <class F>
static void for_each_linear(const ModelWeights& w, F f) {
  if (w.embed) f(*w.embed);
  if (w.lm_head) f(*w.lm_head);
  for (auto& l : w.layers)
    for (const Linear* p : {l.q.get(), l.k.get(), l.v.get(), l.o.get(), l.gate.get(), l.up.get(), l.down.get()})
      if (p) f(*p);
}

uint64_t ModelWeights::weight_bytes() const {
  uint64_t n = 0;
  for_each_linear(*this, [&](const Linear& l) { n += l.weight_bytes(); });
  n += final_norm.size() * sizeof(float);
  for (auto& l : layers)
    n += (l.q_bias.size() + l.k_bias.size() + l.v_bias.size() + l.attn_norm.size() + l.ffn_norm.size()) * sizeof(float);
  return n;
}

std::vector<std::pair<std::string, int>> ModelWeights::linear_kinds() const {
  std::map<std::string, int> m;
  for_each_linear(*this, [&](const Linear& l) { m[l.kind()]++; });
  return {m.begin(), m.end()};
}

}  // namespace qbench
