#include "engines/cuda/gemm_compare_cuda.h"

#include <cmath>
#include <cstring>

#include "engines/cuda/cuda_check.h"

namespace qbench::cuda {

namespace {

// out: [max |ref| bits, max |diff| bits, non-finite ref, mismatched]. Non-negative floats order like their
// bit patterns, so atomicMax on the bits is a float max.
__global__ void compare_kernel(const float* __restrict__ ref, int64_t ld_ref, const float* __restrict__ got,
                               int64_t ld_got, int64_t rows, int64_t n, unsigned int* out) {
  float mr = 0.f, md = 0.f;
  unsigned int nf = 0, mm = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < rows * n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / rows, r = i % rows;
    const float a = ref[t * ld_ref + r], b = got[t * ld_got + r];
    const bool fa = isfinite(a), fb = isfinite(b);
    if (fa && fb) {
      mr = fmaxf(mr, fabsf(a));
      md = fmaxf(md, fabsf(a - b));
    } else {
      nf += fa ? 0u : 1u;
      const bool same = !fa && !fb && ((isnan(a) && isnan(b)) || (isinf(a) && isinf(b) && signbit(a) == signbit(b)));
      mm += same ? 0u : 1u;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    mr = fmaxf(mr, __shfl_xor_sync(0xffffffffu, mr, o));
    md = fmaxf(md, __shfl_xor_sync(0xffffffffu, md, o));
    nf += __shfl_xor_sync(0xffffffffu, nf, o);
    mm += __shfl_xor_sync(0xffffffffu, mm, o);
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMax(out, __float_as_uint(mr));
    atomicMax(out + 1, __float_as_uint(md));
    atomicAdd(out + 2, nf);
    atomicAdd(out + 3, mm);
  }
}

}  // namespace

GemmComparison compare_gemm_outputs(const float* ref, int64_t ld_ref, const float* got, int64_t ld_got, int64_t rows,
                                    int64_t n) {
  unsigned int* d = nullptr;
  QB_CUDA(cudaMalloc(&d, 4 * sizeof(unsigned int)));
  unsigned int h[4] = {0, 0, 0, 0};
  cudaError_t e = cudaMemsetAsync(d, 0, sizeof h, stream());
  if (e == cudaSuccess) {
    compare_kernel<<<264, 256, 0, stream()>>>(ref, ld_ref, got, ld_got, rows, n, d);  // grid-stride: any size
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(h, d, sizeof h, cudaMemcpyDeviceToHost, stream());
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream());
  (void)cudaFree(d);  // not device_free: the tuner calls this while the launch queue runs
  if (e != cudaSuccess) throw_cuda(e, "GEMM output comparison");
  GemmComparison c;
  std::memcpy(&c.max_abs_ref, &h[0], sizeof(float));
  std::memcpy(&c.max_abs_diff, &h[1], sizeof(float));
  c.nonfinite_ref = h[2];
  c.mismatched = h[3];
  return c;
}

}  // namespace qbench::cuda
