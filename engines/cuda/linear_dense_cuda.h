#pragma once
// Dense Linear on the GPU: F16/BF16/F32 weights [out, in] copied once into
// device memory. Decode (n <= 8 tokens): our GEMV, one warp per output row,
// 128-bit weight loads, FP32 accumulation, every weight read once for all n
// tokens. Prefill (n > 8): activations rounded to the weight type (FP16/BF16)
// and one cuBLAS GEMM on the tensor cores with FP32 accumulation and output.
#include <memory>

#include "engines/core/dtype.h"
#include "engines/model/linear.h"

namespace qbench {

// `host_weights` is read during the call only.
std::unique_ptr<Linear> make_dense_linear_cuda(DType dtype, const void* host_weights, int64_t in, int64_t out);

}  // namespace qbench
