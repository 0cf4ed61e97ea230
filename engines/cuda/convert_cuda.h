#pragma once
// FP32 activations to the 16-bit operand type of a cuBLAS GEMM (FP16, or BF16 for BF16 weights): the
// conversion half_copy.h queues when no producer wrote the copy. Include from CUDA-aware sources only.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace qbench::cuda {

// y[i] = x[i] rounded to nearest, i < n, on `s` (no queueing: the caller enqueues with a key holding x, y and
// n). Four values per thread (a 16-byte load, an 8-byte store) where x is 16- and y 8-byte aligned and
// n % 4 == 0, one otherwise: prefill-sized conversions are bandwidth-bound, and the one-value form streamed
// ~1.1 TB/s on the H100. T: __half or __nv_bfloat16.
template <class T>
void launch_to_16bit(const float* x, T* y, int64_t n, cudaStream_t s);

}  // namespace qbench::cuda
