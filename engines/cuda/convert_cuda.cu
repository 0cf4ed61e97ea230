#include "engines/cuda/convert_cuda.h"

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

template <class T>
__global__ void to_16bit_kernel(const float* __restrict__ x, T* __restrict__ y, int64_t n, bool vec) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vec) {
    if (i < n / 4) store4(y, i, reinterpret_cast<const float4*>(x)[i]);
  } else if (i < n) {
    y[i] = from_f32<T>(x[i]);
  }
}

}  // namespace

template <class T>
void launch_to_16bit(const float* x, T* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  const bool vec = n % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 8 == 0;
  launch_pdl(to_16bit_kernel<T>, unsigned(((vec ? n / 4 : n) + 255) / 256), 256, 0, s, x, y, n, vec);
  QB_CUDA_LAUNCH("activation conversion");
}

template void launch_to_16bit<__half>(const float*, __half*, int64_t, cudaStream_t);
template void launch_to_16bit<__nv_bfloat16>(const float*, __nv_bfloat16*, int64_t, cudaStream_t);

}  // namespace qbench::cuda
