#pragma once
// Causal GQA attention over the paged KV cache on the device.
#include <cstdint>

#include "engines/model/kv_cache.h"

namespace qbench::cuda {

// q, out: device [rows, n_heads*head_dim]; positions pos0..pos0+rows attend over [0, pos+1).
// The block table is uploaded per call. Long decode contexts are split over
// the context (partial softmax per split, then a combine pass).
void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows, int64_t n_heads);

// Device copy of the cache's block table (valid until the next call).
const int32_t* upload_block_table(const KvCache& kv);

}  // namespace qbench::cuda
