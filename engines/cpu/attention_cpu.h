#pragma once
// Causal grouped-query attention on the CPU over a contiguous KV cache.
#include <cstdint>

#include "engines/model/kv_cache.h"

namespace qbench::cpu {

// q [rows, n_heads*head_dim] at positions pos0..pos0+rows; out likewise.
void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows, int64_t n_heads);

}  // namespace qbench::cpu
