#pragma once
// Everything a loaded checkpoint gives the transformer: one Linear per
// projection (of whatever format) and small float32 vectors for norms and biases.
#include <memory>
#include <string>
#include <vector>

#include "engines/model/linear.h"

namespace qbench {

struct LayerWeights {
  std::unique_ptr<Linear> q, k, v, o, gate, up, down;
  std::vector<float> q_bias, k_bias, v_bias;  // empty when the architecture has none
  std::vector<float> attn_norm, ffn_norm;
};

struct ModelWeights {
  std::unique_ptr<Linear> embed;    // token embedding table [vocab, hidden]
  std::unique_ptr<Linear> lm_head;  // nullptr when tied to embed
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
  // Whatever the Linears point into (mapped files, repacked buffers).
  std::vector<std::shared_ptr<const void>> keep_alive;

  const Linear& output() const { return lm_head ? *lm_head : *embed; }
  uint64_t weight_bytes() const;
  // Storage kinds in use, e.g. {"f16": 169, ...} count of Linears per kind.
  std::vector<std::pair<std::string, int>> linear_kinds() const;
};

}  // namespace qbench
