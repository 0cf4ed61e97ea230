#pragma once
// Error checks for CUDA runtime and cuBLAS calls: failures become qbench::Error
// naming the call, never an abort. Include only from CUDA-aware sources.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "engines/core/error.h"

namespace qbench::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* call) {
  throw Error(std::string("CUDA error in ") + call + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}
[[noreturn]] inline void throw_cublas(cublasStatus_t s, const char* call) {
  throw Error(std::string("cuBLAS error in ") + call + ": status " + std::to_string(int(s)));
}

// The stream and cuBLAS handle of the process (cuda_context.cu).
cudaStream_t stream();
cublasHandle_t cublas();
// The workspace handed to cuBLAS (also cuBLASLt's: both run in order on the one stream).
void* cublas_workspace(size_t* bytes);

}  // namespace qbench::cuda

#define QB_CUDA(call)                                              \
  do {                                                             \
    cudaError_t qb_e_ = (call);                                    \
    if (qb_e_ != cudaSuccess) ::qbench::cuda::throw_cuda(qb_e_, #call); \
  } while (0)
#define QB_CUBLAS(call)                                                  \
  do {                                                                   \
    cublasStatus_t qb_s_ = (call);                                       \
    if (qb_s_ != CUBLAS_STATUS_SUCCESS) ::qbench::cuda::throw_cublas(qb_s_, #call); \
  } while (0)
// After a kernel launch: launch-configuration errors surface here.
#define QB_CUDA_LAUNCH(what) QB_CUDA(cudaGetLastError())
