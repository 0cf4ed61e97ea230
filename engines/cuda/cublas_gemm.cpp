#include "engines/cuda/cublas_gemm.h"

#include <utility>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/gemm_tuner.h"
#include "engines/cuda/launch_queue.h"

namespace qbench::cuda {

void enqueue_gemm_xwt(uint64_t tag, const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n,
                      int64_t in, int64_t ldy, bool capturable) {
  // cuBLAS is column-major: Yᵀ[rows, n] = W[rows, in] · Xᵀ[in, n].
  Launch l;
  l.key = key(tag, w, x, y, rows, n, in, ldy, int(type));
  l.capturable = capturable;
  l.run = [=](cudaStream_t) { run_gemm_xwt(w, x, type, y, rows, n, in, ldy); };
  enqueue(std::move(l));
}

void run_gemm_xwt(const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n, int64_t in,
                  int64_t ldy) {
  if (run_gemm_tuned(w, x, type, y, rows, n, in, ldy)) return;  // decode-sized: the timed cuBLASLt choice
  run_gemm_xwt_default(w, x, type, y, rows, n, in, ldy);
}

void run_gemm_xwt_default(const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n,
                          int64_t in, int64_t ldy) {
  const float alpha = 1.f, beta = 0.f;
  QB_CUBLAS(cublasGemmEx(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(n), int(in), &alpha, w, type, int(in), x,
                         type, int(in), &beta, y, CUDA_R_32F, int(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace qbench::cuda
