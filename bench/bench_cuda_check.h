#pragma once
// CK(call): in a CUDA benchmark's main(), a failing runtime call prints where and why and returns 1.
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
