#pragma once
// Linear over GGUF blocks used in place from the mapped file: W is [out rows ×
// in/block blocks] of one ggml type. Each forward quantises the activations
// once (the way llama.cpp does for that type) and runs integer block dot
// products, output rows spread over OpenMP threads.
#include <memory>
#include <vector>

#include "engines/model/linear.h"
#include "engines/quant/ggml_type.h"

namespace qbench {

// row_map (optional, size out): output o reads stored row row_map[o] (undoes
// llama.cpp's Q/K row permutation for Llama files).
std::unique_ptr<Linear> make_gguf_linear_cpu(quant::GgmlType type, const void* blocks, int64_t in, int64_t out,
                                             std::vector<int32_t> row_map = {});

}  // namespace qbench
