#pragma once
// Y[n, m] = X[n, k] · Bᵀ where B is a dense float32 tile [m, k]; Y has row
// stride ldy. Eigen's blocked GEMM on one thread: callers parallelise over tiles.
#include <cstdint>

namespace qbench::cpu {

void gemm_xbt(const float* x, int64_t n, int64_t k, const float* b, int64_t m, float* y, int64_t ldy);

}  // namespace qbench::cpu
