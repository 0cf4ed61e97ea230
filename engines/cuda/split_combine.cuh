#pragma once
// The merge of a split attention row: each split s of the context left a partial (max m_s in the natural-log
// domain, sum l_s, D unnormalised sums acc_s); out = sum_s acc_s e^(m_s-M) / sum_s l_s e^(m_s-M).
// One merge per (row, head), run by a whole block (it synchronises the block). Where the partials come from
// is the caller's: global memory written by other blocks (attention_cuda.cu: the split kernel's last block,
// the batched combine pass) or the shared memory of the other blocks of a thread-block cluster
// (attention_flash_cuda.cu's clustered decode kernel). Both run the same operations in the same order, so a
// row merged either way has the same bits.
// Include from CUDA sources only.
#include <cuda_runtime.h>

#include <cstdint>

#include "engines/cuda/half_copy.h"
#include "engines/cuda/half_out_store.cuh"

namespace qbench::cuda {

// part(s, j): element j of split s's partial (0: m_s, 1: l_s, 2 + i: acc_s[i]); splits <= MaxSplits.
// With h (every 16 consecutive threads of the block in one run of 16 values, for GgufQ8): out in the form
// the o projection asked for too (half_copy.h; out[0] is element e0 of the whole output).
// Latency is what counts (a decode step runs it once per layer on 28 blocks): all (m_s, l_s) are read at once
// into shared memory and the weights e^(m_s-M) computed once, then the sums' loads go 8 at a time. The loop
// that read each split's values in turn, three times over, took 8.2-8.5 us per launch in ncu against 5.5-5.7
// now (H100, 7B decode step). The operations and their order are that loop's (M, then L and the sums in
// split order, the same products).
template <int MaxSplits, class Part>
__device__ __forceinline__ void combine_split_partials(Part part, float* out, int splits, int D,
                                                       const HalfOut* h = nullptr, int64_t e0 = 0) {
  __shared__ float ms[MaxSplits], ls[MaxSplits], es[MaxSplits];  // m_s, l_s, e^(m_s-M) (0: m_s = -inf)
  for (int s = threadIdx.x; s < splits; s += blockDim.x) {
    ms[s] = part(s, 0);
    ls[s] = part(s, 1);
  }
  __syncthreads();
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, ms[s]);
  for (int s = threadIdx.x; s < splits; s += blockDim.x) es[s] = ms[s] != -INFINITY ? expf(ms[s] - M) : 0.f;
  __syncthreads();
  float L = 0.f;  // every thread, in split order
  for (int s = 0; s < splits; ++s)
    if (ms[s] != -INFINITY) L += ls[s] * es[s];
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    float o = 0.f;
#pragma unroll 8
    for (int s = 0; s < splits; ++s) {
      const float v = part(s, 2 + i);
      if (ms[s] != -INFINITY) o += v * es[s];
    }
    out[i] = o / L;
    if (h) store_half1(*h, e0 + i, o / L);
  }
}

}  // namespace qbench::cuda
