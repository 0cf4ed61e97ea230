#include "engines/formats/gptq_awq_tensors.h"

#include "engines/core/error.h"
#include "engines/formats/hf_weights.h"

namespace qbench {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  TensorRef t;
  t.shape = shape;
  return t.shape_str();
}

}  // namespace

const TensorRef& require_quant_tensor(const TensorSource& src, const std::string& name, DType dtype,
                                      const std::vector<int64_t>& shape) {
  const TensorRef& t = src.require(name);
  if (t.dtype != dtype)
    throw Error(t.file + ": tensor '" + name + "' has dtype " + dtype_name(t.dtype) + ", expected " + dtype_name(dtype));
  if (t.shape != shape)
    throw Error(t.file + ": tensor '" + name + "' has shape " + t.shape_str() + ", expected " + shape_text(shape));
  if (t.nbytes != uint64_t(t.numel()) * dtype_size(dtype))
    throw Error(t.file + ": tensor '" + name + "' holds " + std::to_string(t.nbytes) + " bytes, its shape needs " +
                std::to_string(uint64_t(t.numel()) * dtype_size(dtype)));
  return t;
}

std::vector<float> require_scales(const TensorSource& src, const std::string& name, const std::vector<int64_t>& shape) {
  return tensor_to_f32(src.require(name), shape);
}

std::string quant_layer_error(const std::string& prefix, const std::string& what) { return "layer '" + prefix + "': " + what; }

}  // namespace qbench
