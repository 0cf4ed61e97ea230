// The device's measured ceilings for the CUDA backend's roofline: read
// bandwidth (a streaming sum over a buffer far larger than L2), device-to-device
// copy bandwidth (bytes read + written), and the FP16 tensor-core GEMM rate
// (cuBLAS, FP32 accumulation). Prints one JSON object.
// usage: bench_cuda_roofline [--gib 4] [--gemm 8192]
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/bench_cuda_check.h"
#include "bench/bench_cuda_timer.h"

__global__ void read_kernel(const uint4* __restrict__ p, size_t n, unsigned* sink) {
  unsigned acc = 0;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) *sink = acc;  // keeps the loads alive
}

int main(int argc, char** argv) {
  double gib = 4;
  int g = 8192;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--gib")) gib = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--gemm")) g = std::atoi(argv[i + 1]);
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  const size_t bytes = size_t(gib * double(1ull << 30)) / 16 * 16;
  void *src = nullptr, *dst = nullptr;
  unsigned* sink = nullptr;
  CK(cudaMalloc(&src, bytes));
  CK(cudaMalloc(&dst, bytes));
  CK(cudaMalloc(&sink, sizeof(unsigned)));
  CK(cudaMemset(src, 1, bytes));
  const float read_ms = mean_ms([&](int) { read_kernel<<<prop.multiProcessorCount * 8, 512>>>(static_cast<const uint4*>(src), bytes / 16, sink); }, 10);
  CK(cudaGetLastError());
  const float copy_ms = mean_ms([&](int) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice); }, 10);
  CK(cudaFree(src));
  CK(cudaFree(dst));

  cublasHandle_t h;
  CK(cublasCreate(&h));
  __half *A, *B;
  float* C;
  CK(cudaMalloc(&A, size_t(g) * g * 2));
  CK(cudaMalloc(&B, size_t(g) * g * 2));
  CK(cudaMalloc(&C, size_t(g) * g * 4));
  CK(cudaMemset(A, 0x3c, size_t(g) * g * 2));  // ~1.0 in fp16: not all zeros
  CK(cudaMemset(B, 0x2c, size_t(g) * g * 2));
  const float one = 1, zero = 0;
  const float gemm_ms = mean_ms([&](int) {
    cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, g, g, g, &one, A, CUDA_R_16F, g, B, CUDA_R_16F, g, &zero, C, CUDA_R_32F, g,
                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }, 10);
  std::printf("{\"gpu\": \"%s\", \"sm_count\": %d, \"buffer_bytes\": %zu,\n"
              " \"read_gb_per_s\": %.1f, \"copy_gb_per_s_read_plus_write\": %.1f, \"copy_gb_per_s_read_only\": %.1f,\n"
              " \"fp16_gemm_n\": %d, \"fp16_gemm_tflops\": %.1f}\n",
              prop.name, prop.multiProcessorCount, bytes, double(bytes) / (read_ms * 1e6), 2.0 * double(bytes) / (copy_ms * 1e6),
              double(bytes) / (copy_ms * 1e6), g, 2.0 * double(g) * g * g / (gemm_ms * 1e9));
  return 0;
}
