#pragma once
// Builds ModelWeights from HF-named tensors (model.layers.N.self_attn.q_proj...).
// The Linear of each projection comes from a factory, so dense, GPTQ and AWQ
// checkpoints share the naming, norms, biases and embedding code.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engines/core/tensor_source.h"
#include "engines/model/model_config.h"
#include "engines/model/model_weights.h"

namespace qbench {

// prefix is e.g. "model.layers.3.mlp.down_proj"; returns a Linear of [out, in].
using LinearFactory = std::function<std::unique_ptr<Linear>(const std::string& prefix, int64_t in, int64_t out)>;

ModelWeights build_hf_weights(const TensorSource& src, const ModelConfig& cfg, const LinearFactory& make_linear);

// The dense Linear for `prefix`.weight (F16/BF16/F32, [out, in]); shape and dtype validated.
std::unique_ptr<Linear> dense_linear_from(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out);

// A small tensor (norm, bias) widened to float32; its shape must equal `shape`.
std::vector<float> tensor_to_f32(const TensorRef& t, const std::vector<int64_t>& shape);

}  // namespace qbench
