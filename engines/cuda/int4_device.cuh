#pragma once
// Device helpers shared by the int4 kernels (int4_kernels_cuda.h has the layout).
#include <cuda_fp16.h>

#include <cstdint>

#include "engines/cuda/int4_kernels_cuda.h"

namespace qbench::cuda {

__device__ __forceinline__ int group_of(int k, const Int4Groups& g) {
  const int i = g.gshift >= 0 ? (k >> g.gshift) : (k / g.gsize);
  return i < g.groups ? i : g.groups - 1;
}

// The 8 codes of one word as exact floats (nibble p = input p).
__device__ __forceinline__ void decode8(uint32_t w, float* q) {
  const uint32_t M = 0x4B000000u;  // 2^23
  const uint32_t v = w >> 12;      // nibbles 5..7 at positions 2..4
  q[0] = __fmaf_rn(__uint_as_float((w & 0xFu) | M), 1.f, -8388608.f);
  q[1] = __fmaf_rn(__uint_as_float((w & 0xF0u) | M), 0.0625f, -524288.f);
  q[2] = __fmaf_rn(__uint_as_float((w & 0xF00u) | M), 0.00390625f, -32768.f);
  q[3] = __fmaf_rn(__uint_as_float((w & 0xF000u) | M), 0.000244140625f, -2048.f);
  q[4] = __fmaf_rn(__uint_as_float((w & 0xF0000u) | M), 0.0000152587890625f, -128.f);
  q[5] = __fmaf_rn(__uint_as_float((v & 0xF00u) | M), 0.00390625f, -32768.f);
  q[6] = __fmaf_rn(__uint_as_float((v & 0xF000u) | M), 0.000244140625f, -2048.f);
  q[7] = __fmaf_rn(__uint_as_float((v & 0xF0000u) | M), 0.0000152587890625f, -128.f);
}

// Scale/zero of the 4 rows of a row block for one group.
template <bool HS>
struct SZ;
template <>
struct SZ<true> {
  uint4 v;
  __device__ __forceinline__ void load(const void* base, int64_t idx) { v = __ldg(static_cast<const uint4*>(base) + idx); }
  __device__ __forceinline__ void get(float* s, float* z) const {
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[r]));
      s[r] = f.x;
      z[r] = f.y;
    }
  }
};
template <>
struct SZ<false> {
  float4 a, b;
  __device__ __forceinline__ void load(const void* base, int64_t idx) {
    const float4* p = static_cast<const float4*>(base) + 2 * idx;
    a = __ldg(p);
    b = __ldg(p + 1);
  }
  __device__ __forceinline__ void get(float* s, float* z) const {
    s[0] = a.x, z[0] = a.y, s[1] = a.z, z[1] = a.w, s[2] = b.x, z[2] = b.y, s[3] = b.z, z[3] = b.w;
  }
};

}  // namespace qbench::cuda
