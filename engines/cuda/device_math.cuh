#pragma once
// Small device helpers shared by the kernels: reductions, element loads and stores.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace qbench::cuda {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block; every thread gets the result. blockDim.x a multiple of 32, at most 1024.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < nw ? part[lane] : 0.f;
  return warp_sum(v);
}

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

// v as T (float, __half or __nv_bfloat16), rounded to nearest even.
template <class T>
__device__ __forceinline__ T from_f32(float v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return v;
}

// Four values rounded to 16-bit T (__half or __nv_bfloat16) at y[4i .. 4i + 3]: one 8-byte store.
template <class T>
__device__ __forceinline__ void store4(T* y, int64_t i, float4 v) {
  T h[4];
  if constexpr (std::is_same_v<T, __half>) {
    *reinterpret_cast<__half2*>(h) = __floats2half2_rn(v.x, v.y);
    *reinterpret_cast<__half2*>(h + 2) = __floats2half2_rn(v.z, v.w);
  } else {
    *reinterpret_cast<__nv_bfloat162*>(h) = __floats2bfloat162_rn(v.x, v.y);
    *reinterpret_cast<__nv_bfloat162*>(h + 2) = __floats2bfloat162_rn(v.z, v.w);
  }
  reinterpret_cast<uint2*>(y)[i] = *reinterpret_cast<const uint2*>(h);
}

// silu(g) · u: the SiLU·mul kernel (ops_cuda.cu) and the int4 gate/up GEMV that takes its launch over
// (int4_gemv_cuda.cu) must agree bit for bit, so both call this.
__device__ __forceinline__ float silu_mul1(float g, float u) { return g / (1.0f + expf(-g)) * u; }

}  // namespace qbench::cuda
