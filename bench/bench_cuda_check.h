#pragma once
// CK(call): in a CUDA benchmark's main(), a failing CUDA runtime or cuBLAS / cuBLASLt call prints where and
// why and returns 1.
#include <cublas_api.h>
#include <cuda_runtime.h>

#include <cstdio>

inline bool ck_failed(cudaError_t e) { return e != cudaSuccess; }
inline const char* ck_why(cudaError_t e) { return cudaGetErrorString(e); }
inline bool ck_failed(cublasStatus_t s) { return s != CUBLAS_STATUS_SUCCESS; }
inline const char* ck_why(cublasStatus_t s) { return cublasGetStatusString(s); }

#define CK(x)                                                                                          \
  do {                                                                                                 \
    const auto e_ = (x);                                                                               \
    if (ck_failed(e_)) {                                                                               \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, ck_why(e_));                     \
      return 1;                                                                                        \
    }                                                                                                  \
  } while (0)
