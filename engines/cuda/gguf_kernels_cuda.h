#pragma once
// Launchers of the GGUF kernels (gguf_gemv_cuda.cu, gguf_dequant_cuda.cu) for
// linear_gguf_cuda.cu. Include from CUDA-aware sources only.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engines/cuda/gemv_args.h"
#include "engines/cuda/gguf_layout_cuda.h"

namespace qbench::cuda {

// Decode GEMV over up to kMaxSegments matrices of one type sharing x [n, in], n <= kGgufMaxGemvTokens.
// g.W[s] is segment s's a0; a1[s] / a2[s] its other arrays.
constexpr int kGgufMaxGemvTokens = 8;
constexpr int kGgufRowsPerWarp = 4;
struct GgufGemvArgs {
  GemvArgs g;  // first member: merge_state's GemvArgs* points here
  const uint8_t* a1[kMaxSegments];
  const uint8_t* a2[kMaxSegments];
  int64_t gend[kMaxSegments];  // cumulative row groups (kGgufRowsPerWarp rows each) per segment
  const int8_t* xq;            // x quantised per 16 values: codes [n, in]
  const int2* xs;              // and (d bits, code sum) [n, in / 16]
  bool early_epilogue;         // bias and residual read before the PDL wait (set by the launcher)
};
// x [n, in] -> xq, xs (gguf_blocks_cuda.cuh quant16 per run of 16).
void launch_gguf_quantize(const float* x, int64_t n, int64_t in, int8_t* xq, int2* xs, cudaStream_t s);
void launch_gguf_gemv(quant::GgmlType t, const GgufGemvArgs& a, cudaStream_t s);
// Tests: force log2 of the warps per row group (0, 1, 2); -1: choose by size. Read when a queued GEMV is
// launched (a captured graph keeps the split it was captured with); it changes only the order of float sums.
void set_gguf_gemv_split(int log2_warps_per_group);

// W rows [0, rows) dequantised to FP16 into w16 [rows, in] (row-major).
void launch_gguf_dequant_f16(quant::GgmlType t, const uint8_t* a0, const uint8_t* a1, const uint8_t* a2, int64_t in,
                             int64_t rows, __half* w16, cudaStream_t s);
// out[r, :] = row ids[r] of W as float (exactly as dequant_ref), r < n.
void launch_gguf_gather(quant::GgmlType t, const uint8_t* a0, const uint8_t* a1, const uint8_t* a2, int64_t in,
                        const int32_t* ids, int64_t n, float* out, cudaStream_t s);

}  // namespace qbench::cuda
