// Argmax over the LM head's output, split across blocks: one block per row took ~44 us for the 152k logits
// of a 7B decode step (1.5 % of a GPTQ step, kernel trace, H100), its threads walking the row one dependent
// load at a time. Now each row is cut into chunks, a block per chunk writes its best (value, index), and the
// last block of the row to finish (a self-resetting counter, so graph replays need no reset) picks among them,
// a part per thread; take_best's tie rule keeps the lowest index among equal values whatever the order.
#include "engines/cuda/argmax_cuda.h"

#include <algorithm>
#include <cmath>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxChunks = 128;

// (bv, bi) becomes the better of itself and (v, i): larger value, lower index among equals; i < 0 is empty.
__device__ __forceinline__ void take_best(float& bv, int64_t& bi, float v, int64_t i) {
  if (i >= 0 && (bi < 0 || v > bv || (v == bv && i < bi))) {
    bv = v;
    bi = i;
  }
}

__device__ __forceinline__ void block_best(float& bv, int64_t& bi) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    take_best(bv, bi, __shfl_xor_sync(0xffffffffu, bv, o), __shfl_xor_sync(0xffffffffu, bi, o));
  __shared__ float sv[kThreads / 32];
  __shared__ int64_t si[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) sv[warp] = bv, si[warp] = bi;
  __syncthreads();
  bv = -INFINITY;
  bi = -1;
  if (threadIdx.x == 0)
    for (int w = 0; w < kThreads / 32; ++w) take_best(bv, bi, sv[w], si[w]);
}

// Block (chunk, row): its best over [chunk · len, (chunk + 1) · len) into part; the row's last block the best of
// the parts into out[row].
__global__ void argmax_chunks_kernel(const float* __restrict__ x, int64_t n, int64_t len, int chunks, bool vec,
                                     float* part_v, int64_t* part_i, unsigned* done, int32_t* __restrict__ out) {
  pdl_enter();
  const int64_t row = blockIdx.y;
  const float* xr = x + row * n;
  const int64_t lo = int64_t(blockIdx.x) * len, hi = lo + len < n ? lo + len : n;
  float bv = -INFINITY;
  int64_t bi = -1;
  if (vec) {  // len and n multiples of 4, x 16-byte aligned
    for (int64_t i = lo + 4 * threadIdx.x; i < hi; i += 4 * kThreads) {
      const float4 v = *reinterpret_cast<const float4*>(xr + i);
      take_best(bv, bi, v.x, i);
      take_best(bv, bi, v.y, i + 1);
      take_best(bv, bi, v.z, i + 2);
      take_best(bv, bi, v.w, i + 3);
    }
  } else {
    for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) take_best(bv, bi, xr[i], i);
  }
  block_best(bv, bi);
  if (chunks == 1) {
    if (threadIdx.x == 0) out[row] = int32_t(bi);
    return;
  }
  __shared__ bool last;
  if (threadIdx.x == 0) {
    part_v[row * chunks + blockIdx.x] = bv;
    part_i[row * chunks + blockIdx.x] = bi;
    __threadfence();
    last = atomicAdd(done + row, 1u) == unsigned(chunks) - 1;
  }
  __syncthreads();
  if (!last) return;
  // The row's last block: the parts, one per thread (a single thread walking them took ~45 us in all: one
  // dependent L2 load after another).
  __threadfence();
  bv = -INFINITY;
  bi = -1;
  for (int c = threadIdx.x; c < chunks; c += kThreads)
    take_best(bv, bi, __ldcg(part_v + row * chunks + c), __ldcg(part_i + row * chunks + c));
  block_best(bv, bi);
  if (threadIdx.x == 0) {
    out[row] = int32_t(bi);
    done[row] = 0;  // ready for the next launch (graph replay)
  }
}

// Grow-only partials and counters (counters zeroed once; the kernel leaves them at zero).
struct ArgmaxScratch {
  int64_t rows = 0;
  float* v = nullptr;
  int64_t* i = nullptr;
  unsigned* done = nullptr;
};

ArgmaxScratch& scratch_for(int64_t rows) {
  static ArgmaxScratch s;
  if (rows > s.rows) {
    device_free(s.v);  // runs what is queued first
    device_free(s.i);
    device_free(s.done);
    s.v = static_cast<float*>(device_alloc(size_t(rows) * kMaxChunks * sizeof(float), "argmax partials"));
    s.i = static_cast<int64_t*>(device_alloc(size_t(rows) * kMaxChunks * sizeof(int64_t), "argmax partials"));
    s.done = static_cast<unsigned*>(device_alloc(size_t(rows) * sizeof(unsigned), "argmax counters"));
    QB_CUDA(cudaMemsetAsync(s.done, 0, size_t(rows) * sizeof(unsigned), stream()));
    s.rows = rows;
  }
  return s;
}

}  // namespace

void enqueue_argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out) {
  if (rows <= 0 || n <= 0) return;
  if (rows > 65535) throw Error("argmax: " + std::to_string(rows) + " rows in one launch (at most 65535)");
  ArgmaxScratch& s = scratch_for(rows);
  // About two blocks per SM in all, chunks of at least 1024 values.
  const int64_t want = std::max<int64_t>(1, 2 * sm_count() / rows);
  const int chunks = int(std::clamp<int64_t>(std::min(want, n / 1024), 1, kMaxChunks));
  int64_t len = (n + chunks - 1) / chunks;
  len = (len + 3) / 4 * 4;
  const bool vec = n % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  float* pv = s.v;
  int64_t* pi = s.i;
  unsigned* done = s.done;
  enqueue({key(0xA12C0, kw(x), rows, n, kw(out), chunks, kw(pv)), true, [=](cudaStream_t st) {
             launch_pdl(argmax_chunks_kernel, dim3(unsigned(chunks), unsigned(rows)), dim3(kThreads), 0, st, x, n, len,
                        chunks, vec, pv, pi, done, out);
             QB_CUDA_LAUNCH("argmax_rows");
           }});
}

}  // namespace qbench::cuda
