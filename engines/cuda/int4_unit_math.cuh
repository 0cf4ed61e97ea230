#pragma once
// The int4 decode GEMV's inner step (int4_gemv_cuda.cu): one unit (16 rows × 128 inputs, 8 k16 tiles) of
// dequantised codes times the activation fragments, on the tensor cores.
// Include from CUDA sources only.
#include <cstdint>

#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/int4_kernels_cuda.h"
#include "engines/cuda/mma.cuh"

namespace qbench::cuda {

// 8 tiles of codes c0, c1 × activation fragments into acc (scales applied per interval). With several scale
// intervals per unit (!G1) their constants come from sz at entry sz_row + group · 16; with one (G1) the caller
// passes them in s. xp: this lane's fragment pointer (the zero fragment for columns without a token), xs: its
// stride per tile pair. CHAINS > 1: tile t accumulates into tensor-core sum t % CHAINS, added up at the end of
// the scale interval (independent mma chains, so a unit is not 8 back-to-back mma; the sum order changes).
template <int NT, bool HS, bool G1, int CHAINS = 1>
__device__ __forceinline__ void int4_unit_math(const uint4& c0, const uint4& c1, Int4LaneSz s, const Int4Groups& gr,
                                               const void* sz, int64_t sz_row, int u, int g,
                                               const uint4* const (&xp)[2], const int (&xs)[2], float (&acc)[8]) {
  constexpr int H = NT <= 4 ? 1 : 2;
  const uint32_t words[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
  uint4 X[H];  // the current tile pair's activation fragments
  float d[CHAINS][H][4] = {};
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    if constexpr (!G1) {
      if ((t & gr.tile_mask) == 0) {  // a new scale interval: its group's constants
        Int4RawSz<HS> r;
        r.load(sz, sz_row + int64_t(group_of(u * kInt4Unit + 16 * t, gr)) * kInt4Rows, g);
        s = lane_sz<HS>(r);
      }
    }
    if ((t & 1) == 0)
#pragma unroll
      for (int h = 0; h < H; ++h) X[h] = __ldg(xp[h] + int64_t(u * 4 + (t >> 1)) * xs[h]);
    uint32_t A[4];
    int4_afrag(words[t], s, A);
#pragma unroll
    for (int h = 0; h < H; ++h) {
      if (t & 1) mma_16816(d[t % CHAINS][h], A[0], A[1], A[2], A[3], X[h].z, X[h].w);
      else mma_16816(d[t % CHAINS][h], A[0], A[1], A[2], A[3], X[h].x, X[h].y);
    }
    if ((G1 && t == 7) || (!G1 && ((t + 1) & gr.tile_mask) == 0)) {
#pragma unroll
      for (int h = 0; h < H; ++h) {
#pragma unroll
        for (int k = 1; k < CHAINS; ++k)
#pragma unroll
          for (int j = 0; j < 4; ++j) d[0][h][j] += d[k][h][j], d[k][h][j] = 0.f;
        acc[4 * h + 0] = __fmaf_rn(s.s0, d[0][h][0], acc[4 * h + 0]);  // row g, hi
        acc[4 * h + 1] = __fmaf_rn(s.s0, d[0][h][1], acc[4 * h + 1]);  // row g, lo
        acc[4 * h + 2] = __fmaf_rn(s.s1, d[0][h][2], acc[4 * h + 2]);  // row g + 8, hi
        acc[4 * h + 3] = __fmaf_rn(s.s1, d[0][h][3], acc[4 * h + 3]);  // row g + 8, lo
        d[0][h][0] = d[0][h][1] = d[0][h][2] = d[0][h][3] = 0.f;
      }
    }
  }
}

}  // namespace qbench::cuda
