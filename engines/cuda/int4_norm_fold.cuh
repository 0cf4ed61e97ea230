#pragma once
// The int4 decode GEMVs' side of a one-row RMSNorm folded into them (int4_kernels_cuda.h Int4NormFold).
// Include from CUDA sources only.
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/int4_kernels_cuda.h"

namespace qbench::cuda {

// 1/sqrt(mean(x²) + eps) of a folded RMSNorm from its per-row-block sums (a multiple of 4 of them: the
// norm's width is a multiple of 128): the first 512 in one round of 16-byte loads, the rest in a loop.
__device__ __forceinline__ float folded_norm_scale(const Int4GemvArgs& a, int lane) {
  const float4* p4 = reinterpret_cast<const float4*>(a.nf.scale_part);
  const int n4 = a.nf.scale_parts / 4;
  float4 v[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) v[i] = lane + 32 * i < n4 ? p4[lane + 32 * i] : make_float4(0.f, 0.f, 0.f, 0.f);
  float ss = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) ss += (v[i].x + v[i].y) + (v[i].z + v[i].w);
  for (int q = lane + 128; q < n4; q += 32) ss += (p4[q].x + p4[q].y) + (p4[q].z + p4[q].w);
  ss = warp_sum(ss);
  return 1.0f / sqrtf(ss / float(a.nf.scale_dim) + a.nf.scale_eps);
}

}  // namespace qbench::cuda
