#pragma once
// Dense Linear on the GPU: F16/BF16/F32 weights [out, in] copied once into
// device memory. One token: our GEMV, one warp per output row, 128-bit weight
// loads, FP32 activations and accumulation. Small batches (2..7 tokens by
// default, up to 64 when forced; F16/BF16 weights): a tensor-core kernel
// (mma.sync m16n8k16) that streams every weight once for all tokens; up to 16
// tokens it keeps the activations to about FP32 accuracy (each split into a high
// and a low FP16/BF16 part), beyond that it rounds them to FP16/BF16. More tokens
// (larger batches, prefill), or F32 weights beyond 8 tokens: activations rounded
// to the weight type and one cuBLAS GEMM (tensor cores, FP32 accumulate and
// output); up to 128 tokens the matrices of one group (q/k/v) as one GEMM.
// F32 weights, 2..8 tokens: the GEMV. Thresholds measured on the H100
// (docs/benchmarks-h100.md, issue 9).

#include <memory>
#include <vector>

#include "engines/core/dtype.h"
#include "engines/model/linear.h"

namespace qbench {

// `host_weights` is read during the call only.
std::unique_ptr<Linear> make_dense_linear_cuda(DType dtype, const void* host_weights, int64_t in, int64_t out);
// Several matrices over the same input (q, k, v) in one device allocation, in order: a batched step's
// cuBLAS path reads them as one matrix (one GEMM instead of three; linear_dense_cuda.cu).
std::vector<std::unique_ptr<Linear>> make_dense_linears_cuda(DType dtype, const std::vector<const void*>& host_weights,
                                                             int64_t in, const std::vector<int64_t>& outs);

namespace cuda {
// Which kernel a dense forward of n tokens uses; Auto is the measured choice.
// Benchmarks and tests force one (a forced path that cannot run a shape falls back to Auto).
enum class DensePath { Auto, Gemv, TensorCore, Cublas };
void force_dense_path(DensePath p);
DensePath forced_dense_path();
// The path Auto takes for n tokens of 16-bit weights with in % 8 == 0.
DensePath auto_dense_path(int64_t n);
}  // namespace cuda

}  // namespace qbench
