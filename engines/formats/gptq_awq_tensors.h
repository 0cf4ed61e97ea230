#pragma once
// Checks shared by the GPTQ and AWQ readers: each quantized tensor must have
// the dtype and shape its layout implies; a mismatch names the tensor, its file,
// what it has and what was expected.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/core/tensor_source.h"

namespace qbench {

// The tensor `name` with exactly this dtype and shape, or a qbench::Error.
const TensorRef& require_quant_tensor(const TensorSource& src, const std::string& name, DType dtype,
                                      const std::vector<int64_t>& shape);
// F16/BF16/F32 scales of exactly `shape`, widened to float32.
std::vector<float> require_scales(const TensorSource& src, const std::string& name, const std::vector<int64_t>& shape);
// Error text "<where>: <what>" for a quantized linear layer.
std::string quant_layer_error(const std::string& prefix, const std::string& what);

}  // namespace qbench
