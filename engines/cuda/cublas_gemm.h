#pragma once
// The one cuBLAS call the CUDA Linears make for prefill-sized batches (dense
// weights, and the FP16 tiles the int4 and GGUF Linears dequantise into):
// y[t][r] = Σ_k x[t][k] · w[r][k] for t < n, r < rows, with 16-bit w and x of
// one type, FP32 accumulation and output (row stride ldy). Queued like every
// launch; `capturable` says whether it may go into a decode step's CUDA graph.
// Include from CUDA-aware sources only.
#include <library_types.h>

#include <cstdint>

namespace qbench::cuda {

void enqueue_gemm_xwt(uint64_t tag, const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n,
                      int64_t in, int64_t ldy, bool capturable);
// The same GEMM issued now on the engine's stream, for a queued launch's run: through the tuned cuBLASLt
// algorithm where gemm_tuner.h applies, else run_gemm_xwt_default.
void run_gemm_xwt(const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n, int64_t in,
                  int64_t ldy);
// cublasGemmEx with cuBLAS's own choice (CUBLAS_GEMM_DEFAULT): also the reference the tuned algorithm is
// checked against.
void run_gemm_xwt_default(const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n,
                          int64_t in, int64_t ldy);

}  // namespace qbench::cuda
