#pragma once
// CK(call): in a CUDA benchmark's main(), a failing runtime call prints where and why and returns 1;
// CKB(call): the same for a cuBLAS / cuBLASLt status.
#include <cublas_api.h>
#include <cuda_runtime.h>

#include <cstdio>

#define CK(x)                                                                                          \
  do {                                                                                                 \
    cudaError_t e_ = (x);                                                                              \
    if (e_ != cudaSuccess) {                                                                           \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));        \
      return 1;                                                                                        \
    }                                                                                                  \
  } while (0)

#define CKB(x)                                                                                         \
  do {                                                                                                 \
    cublasStatus_t s_ = (x);                                                                           \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                 \
      std::fprintf(stderr, "%s:%d: %s: cuBLAS status %d\n", __FILE__, __LINE__, #x, int(s_));         \
      return 1;                                                                                        \
    }                                                                                                  \
  } while (0)
