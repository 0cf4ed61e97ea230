#pragma once
// Dense Linear over F16, BF16 or F32 weights [out, in] used in place (usually
// straight from the mapped checkpoint). Decode: vectorised GEMV, rows across
// OpenMP threads, FP32 accumulation. Prefill: each thread widens a tile of
// rows to F32 and runs a blocked GEMM (Eigen) on it.
#include <memory>

#include "engines/core/dtype.h"
#include "engines/model/linear.h"

namespace qbench {

std::unique_ptr<Linear> make_dense_linear_cpu(DType dtype, const void* weights, int64_t in, int64_t out);

}  // namespace qbench
