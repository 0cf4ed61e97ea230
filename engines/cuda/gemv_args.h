#pragma once
// What a queued decode-GEMV launch carries, for every CUDA Linear with a GEMV
// (dense, GGUF, int4; also the dense cuBLAS launch of a q/k/v group): the
// epilogue that gemv_fusion.h folds bias and residual adds into. A GEMV launch has merge_tag == &kGemvTag and merge_state =
// {kernel tag, x, n, in, GemvArgs*}; the kernel tag tells which Linear kind may
// extend it with more segments.
#include <cstdint>

namespace qbench::cuda {

constexpr int kMaxSegments = 4;  // GEMVs over one input merged into one launch (q/k/v, gate/up)

// Several weight matrices over one input: rows [end[s-1], end[s]) are segment s.
// Epilogue per segment, folded in from the launches that followed the GEMV
// (gemv_fusion.h): y = x·Wᵀ + bias; resid += y.
struct GemvArgs {
  const void* W[kMaxSegments];
  float* y[kMaxSegments];
  const float* bias[kMaxSegments];
  float* resid[kMaxSegments];
  int64_t end[kMaxSegments];  // cumulative rows
  int nseg;
  int64_t in;
  int n;
  // cuBLAS launches of a dense group (linear_dense_cuda.cu) only: where their one GEMM over all segments
  // writes [n, total rows] before the epilogue pass. Their residual adds do not fold (the RMSNorm after
  // them takes those).
  float* ym = nullptr;
  // Set when the RoPE launch right after takes over the epilogue pass (ops_cuda.cu): the GEMM only writes ym.
  bool epilogue_taken = false;
};

// Marks a queued launch as a GEMV (one object for the whole program).
inline const char kGemvTag = 0;

}  // namespace qbench::cuda
