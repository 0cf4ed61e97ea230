#pragma once
// FP32 GEMM probe: the compute ceiling prefill is compared to. Parallelised
// exactly like the engine's prefill GEMM (engines/cpu/linear_dense_cpu.cpp):
// Eigen single-threaded (EIGEN_DONT_PARALLELIZE), output columns split across
// OpenMP threads, each thread running Eigen on its block.
// Header-only: qbench_measure has neither Eigen nor OpenMP; targets linked to
// qbench_engines have both.
#include <omp.h>

// GCC 12 flags Eigen's AVX-512 GEMM kernels with false -Wmaybe-uninitialized
// warnings inside the intrinsics headers; silence them for these headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include <algorithm>
#include <string>

#include "engines/core/error.h"
#include "harness/measure/clock.h"

#ifndef _OPENMP
#error "harness/measure/roofline_gemm.h needs OpenMP: include it from a target linked to qbench_engines"
#endif

namespace qbench {

// GFLOP/s (2 n^3 per product) of C[n,n] = A[n,n] * B[n,n]^T with row-major
// matrices, the engine's Y = X * W^T layout. Best of `reps` after one warm-up.
inline double measure_fp32_gemm_gflops(int threads, int n = 1024, int reps = 3) {
  if (threads < 1 || n < 16 || reps < 1)
    throw Error("GEMM probe: needs threads >= 1, n >= 16, reps >= 1 (got threads=" + std::to_string(threads) +
                ", n=" + std::to_string(n) + ", reps=" + std::to_string(reps) + ")");
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMat a = RowMat::Random(n, n), b = RowMat::Random(n, n);
  RowMat c(n, n);
  // Column blocks a multiple of 16 wide (a 64-byte line of floats) so no two threads share output lines.
  const int block = (n + threads - 1) / threads;
  const int width = std::max(16, (block + 15) / 16 * 16);

  double best = 1e300;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      const int c0 = omp_get_thread_num() * width;
      const int w = std::min(width, n - c0);
      if (w > 0) c.middleCols(c0, w).noalias() = a * b.middleRows(c0, w).transpose();
    }
    if (r > 0) best = std::min(best, seconds_since(t0));  // rep 0 warms caches and pages
  }
  if (!c.allFinite()) throw Error("GEMM probe: non-finite result");
  return 2.0 * double(n) * double(n) * double(n) / best * 1e-9;
}

}  // namespace qbench
