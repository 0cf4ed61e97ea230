#include "engines/cuda/attention_cuda.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <vector>

#include "engines/core/error.h"
#include "engines/core/env_flag.h"
#include "engines/cuda/attention_flash_cuda.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/debug_skip.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/fold_control.h"
#include "engines/cuda/half_copy.h"
#include "engines/cuda/half_out_store.cuh"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/pdl.cuh"
#include "engines/cuda/split_combine.cuh"

namespace qbench::cuda {

namespace {

constexpr int kWarps = 4;             // warps per (query row, head); each takes every 4th key
// Decode: one split per this many keys of the cache's capacity. Small splits keep
// each warp's chain of dependent loads short (a 768-slot cache: 24 splits, 28 heads -> 672 blocks).
constexpr int64_t kSplitKeys = 32;
constexpr int64_t kMaxSplits = 64;
// Up to this many query rows a sequence is decoding (the split kernels); more go to the flash kernel
// (attention_flash_cuda.h) when the cache is F16 and the head_dim is one it takes.
constexpr int64_t kDecodeRows = 4;

// Blocks per SM the batched pass's decode splits aim at (attention_batch). Fewer splits measured faster on
// the H100 (7B, 512-token contexts, ms per step at 8 / 16 / 32 / 64 sequences): 4 per SM 7.06 / 6.87 / 7.22 /
// 7.80, 2: 6.75 / 6.79 / 7.11 / 7.67, 1: 6.55 / 6.68 / 6.93 / 7.42; at 64 sequences 1 means no split at all
// (no partials, no combine pass). QBENCH_CUDA_DECODE_BLOCKS=N (1..16) for measurements.
int64_t decode_blocks_per_sm() {
  static const int64_t b = env_int("QBENCH_CUDA_DECODE_BLOCKS", 1, 1, 16);
  return b;
}

// The flash kernel for this cache? QBENCH_CUDA_FLASH=0 keeps the scalar kernels (A/B measurements).
bool use_flash(KvType t, int64_t head_dim) {
  static const bool on = !env_equals("QBENCH_CUDA_FLASH", "0");
  return on && t == KvType::F16 && flash_attention_supports(head_dim);
}

struct PagedKv {
  const void* k;        // block_data(layer, 0, 0)
  const void* v;        // block_data(layer, 1, 0)
  const int32_t* table; // device block table
  int64_t block_elems;  // elements per block (block_tokens * row_elems)
  int64_t block_tokens, row_elems;
};

// Most splits combine_splits merges (its per-split values sit in shared memory); the batched planner keeps
// to it.
constexpr int kCombineMax = 1024;

// Merges the splits of one (row, head) from partials at p + s * stride (split_combine.cuh). Used by the last
// block of a split single-sequence launch (the partials were written by other blocks of the same grid: read
// through L2, __ldcg, never a possibly stale L1 line) and by the batched combine pass; splits <= kCombineMax.
__device__ __forceinline__ void combine_splits(const float* p, int64_t stride, float* out, int splits, int D,
                                               const HalfOut* h = nullptr, int64_t e0 = 0) {
  combine_split_partials<kCombineMax>([=](int s, int j) { return __ldcg(p + s * stride + j); }, out, splits, D, h, e0);
}

// One block per (query row, head) and split of the context. Each warp runs an
// online softmax over its keys with E = ceil(head_dim/32) elements per lane,
// then the warps merge through shared memory. With partials == nullptr the
// block writes the normalised output; else (max, sum, unnormalised acc), and the last block of a
// (row, head) to finish (counted in done[rh], which it resets to 0 for the next launch) merges the splits.
template <class T, int E>
__global__ void attention_kernel(PagedKv kv, const float* __restrict__ q, float* __restrict__ out,
                                 float* partials, int* __restrict__ done, int n_heads, int group, int D,
                                 const int32_t* __restrict__ pos0p, int rows, float scale) {
  pdl_enter();
  const int rh = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
  const int r = rh / n_heads, h = rh % n_heads, kvh = h / group;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t pos0 = *pos0p;
  const int64_t len = pos0 + r + 1;
  const int64_t split_len = (pos0 + rows + splits - 1) / splits;
  const int64_t j0 = int64_t(split) * split_len, j1 = min(len, j0 + split_len);

  float qv[E], acc[E];
  const float* qh = q + (int64_t(r) * n_heads + h) * D;
#pragma unroll
  for (int e = 0; e < E; ++e) {
    const int i = lane + 32 * e;
    qv[e] = i < D ? qh[i] : 0.f;
    acc[e] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const T* K = static_cast<const T*>(kv.k);
  const T* V = static_cast<const T*>(kv.v);
  auto row_off = [&](int64_t j) {
    return int64_t(kv.table[j / kv.block_tokens]) * kv.block_elems + (j % kv.block_tokens) * kv.row_elems + int64_t(kvh) * D;
  };
  // Two keys per step: their K and V rows are loaded together before either
  // score is reduced, so each warp waits on memory half as often.
  int64_t j = j0 + warp;
  for (; j + kWarps < j1; j += 2 * kWarps) {
    const int64_t o0 = row_off(j), o1 = row_off(j + kWarps);
    float k0[E], k1[E], v0[E], v1[E];
#pragma unroll
    for (int e = 0; e < E; ++e) {
      const int i = lane + 32 * e;
      const bool in = i < D;
      k0[e] = in ? to_f32(K[o0 + i]) : 0.f;
      k1[e] = in ? to_f32(K[o1 + i]) : 0.f;
      v0[e] = in ? to_f32(V[o0 + i]) : 0.f;
      v1[e] = in ? to_f32(V[o1 + i]) : 0.f;
    }
    float s0 = 0.f, s1 = 0.f;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      s0 += qv[e] * k0[e];
      s1 += qv[e] * k1[e];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      s0 += __shfl_xor_sync(0xffffffffu, s0, o);
      s1 += __shfl_xor_sync(0xffffffffu, s1, o);
    }
    s0 *= scale;
    s1 *= scale;
    const float mn = fmaxf(m, fmaxf(s0, s1));
    const float corr = expf(m - mn);  // m == -inf on the first keys: corr = 0
    const float p0 = expf(s0 - mn), p1 = expf(s1 - mn);
    l = l * corr + p0 + p1;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[e] = acc[e] * corr + p0 * v0[e] + p1 * v1[e];
    m = mn;
  }
  if (j < j1) {  // one key left for this warp
    const int64_t off = row_off(j);
    float s = 0.f;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      const int i = lane + 32 * e;
      if (i < D) s += qv[e] * to_f32(K[off + i]);
    }
    s = warp_sum(s) * scale;
    const float mn = fmaxf(m, s);
    const float corr = expf(m - mn);
    const float p = expf(s - mn);
    l = l * corr + p;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      const int i = lane + 32 * e;
      acc[e] = acc[e] * corr + (i < D ? p * to_f32(V[off + i]) : 0.f);
    }
    m = mn;
  }

  // Merge the warps.
  __shared__ float sm_m[kWarps], sm_l[kWarps], sm_acc[kWarps][E * 32];
  if (lane == 0) { sm_m[warp] = m; sm_l[warp] = l; }
#pragma unroll
  for (int e = 0; e < E; ++e) sm_acc[warp][lane + 32 * e] = acc[e];
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm_m[w]);
  float L = 0.f, wgt[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    wgt[w] = sm_m[w] == -INFINITY ? 0.f : expf(sm_m[w] - M);
    L += sm_l[w] * wgt[w];
  }
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    float o = 0.f;
    for (int w = 0; w < kWarps; ++w) o += sm_acc[w][i] * wgt[w];
    if (!partials) {
      out[(int64_t(r) * n_heads + h) * D + i] = o / L;
    } else {
      partials[(int64_t(rh) * splits + split) * (D + 2) + 2 + i] = o;
    }
  }
  if (partials && threadIdx.x == 0) {
    partials[(int64_t(rh) * splits + split) * (D + 2)] = M;
    partials[(int64_t(rh) * splits + split) * (D + 2) + 1] = L;
  }
  if (!partials) return;
  // Last block of this (row, head) merges (threadFenceReduction pattern): every thread's partials are
  // visible device-wide before its block is counted.
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    last = atomicAdd(done + rh, 1) == splits - 1;
    if (last) done[rh] = 0;  // the next launch (graph replay) starts from 0; it runs after this grid
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  combine_splits(partials + int64_t(rh) * splits * (D + 2), D + 2, out + int64_t(rh) * D, splits, D);
}

// Per-(row, head) counters of finished splits (attention_kernel): zero between launches, since the last block
// of each resets its own. Grow-only; a new buffer is zeroed on the stream before any launch that uses it
// (device_free runs the queued launches that use the old one first).
int* split_counters(int64_t n) {
  static int* buf = nullptr;
  static int64_t cap = 0;
  if (n > cap) {
    device_free(buf);
    buf = nullptr;
    cap = 0;
    const int64_t want = std::max<int64_t>(n, 4096);
    buf = static_cast<int*>(device_alloc(size_t(want) * sizeof(int), "attention split counters"));
    QB_CUDA(cudaMemsetAsync(buf, 0, size_t(want) * sizeof(int), stream()));
    cap = want;
  }
  return buf;
}

template <class T, int E>
void launch(const PagedKv& kv, const float* q, float* out, int64_t rows, int n_heads, int group, int D,
            const int32_t* pos0, int64_t capacity) {
  const float scale = 1.0f / std::sqrt(float(D));
  // Few query rows over a long context leave most SMs idle: split the context.
  // Splits follow the capacity (fixed for a sequence), each split's length the position (on the device).
  int64_t splits = 1;
  if (rows <= kDecodeRows) splits = std::clamp<int64_t>((capacity + kSplitKeys - 1) / kSplitKeys, 1, kMaxSplits);
  const dim3 grid(unsigned(rows * n_heads), unsigned(splits));
  float* part = nullptr;
  int* done = nullptr;
  if (splits > 1) {
    part = static_cast<float*>(scratch(Scratch::AttentionPartials, size_t(rows * n_heads * splits * (D + 2)) * sizeof(float)));
    done = split_counters(rows * n_heads);
  }
  enqueue({key(0x200, kv.k, kv.v, kv.table, kv.block_elems, kv.block_tokens, kv.row_elems, q, out, part, done, rows,
               n_heads, group, D, pos0, splits, E, sizeof(T)),
           true, [=](cudaStream_t s) {
             launch_pdl(attention_kernel<T, E>, grid, kWarps * 32, 0, s, kv, q, out, part, done, n_heads, group, D, pos0,
                        int(rows), scale);
             QB_CUDA_LAUNCH("attention");
           }});
}

template <class T>
void dispatch(const PagedKv& kv, const float* q, float* out, int64_t rows, int n_heads, int group, int D,
              const int32_t* pos0, int64_t capacity) {
  if (D <= 64) launch<T, 2>(kv, q, out, rows, n_heads, group, D, pos0, capacity);
  else if (D <= 128) launch<T, 4>(kv, q, out, rows, n_heads, group, D, pos0, capacity);
  else if (D <= 256) launch<T, 8>(kv, q, out, rows, n_heads, group, D, pos0, capacity);
  else throw Error("CUDA attention supports head_dim up to 256, not " + std::to_string(D));
}


// ---- Many sequences in one launch (issue 9) ----------------------------------
constexpr int kBatchThreads = 128;
constexpr int kGroupMax = 8;          // query heads per KV head handled by one block
constexpr int64_t kMaxSplitLen = 1024; // keys per block (scores kept in shared memory)
// Least keys per split; QBENCH_CUDA_MIN_SPLIT=N (16..1024) for measurements.
int64_t min_split_len() {
  static const int64_t v = env_int("QBENCH_CUDA_MIN_SPLIT", 64, 16, 1024);
  return v;
}

struct BatchKv {
  const void* k;  // block_data(layer, 0, 0): slot s's row at s * row_elems
  const void* v;
  int64_t block_tokens, row_elems;
};

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ void load8(const __half* p, float* f) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 t = __half22float2(h[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}
__device__ __forceinline__ void load8(const float* p, float* f) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
__device__ __forceinline__ void load4(const __half* p, float* f) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
  const float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
  f[0] = a.x; f[1] = a.y; f[2] = b.x; f[3] = b.y;
}
__device__ __forceinline__ void load4(const float* p, float* f) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w;
}

template <class T>
__global__ void kv_store_rows_kernel(T* __restrict__ kb, T* __restrict__ vb, const int32_t* __restrict__ slots,
                                     int64_t row_elems, const float* __restrict__ k, const float* __restrict__ v,
                                     int64_t rows) {
  pdl_enter();
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * row_elems) return;
  const int64_t off = int64_t(slots[t / row_elems]) * row_elems + t % row_elems;
  kb[off] = from_f32<T>(k[t]);
  vb[off] = from_f32<T>(v[t]);
}

// Block (task, KV head). task = (sequence, its row, split, splits); sequence = (first stacked row,
// pos0, offset of its block table, split length). Three phases over the split's keys:
// scores (a thread per key: its K row once against every query head of the group), softmax
// per head, then V (teams of D/4 threads, 4 dims each: each V row once for all heads).
// DT: head_dim when fixed at compile time (64, 128), else 0 (read from D).
template <class T, int DT>
__global__ void __launch_bounds__(kBatchThreads) attention_batch_kernel(
    BatchKv kv, const int4* __restrict__ tasks, const int4* __restrict__ seqs, const int32_t* __restrict__ tables,
    const float* __restrict__ q, float* __restrict__ out, float* __restrict__ part, int n_heads, int group, int Drt,
    int max_split, float scale) {
  pdl_enter();
  const int D = DT ? DT : Drt;
  extern __shared__ float sm[];
  float* qs = sm;                      // [group][D], pre-scaled
  float* sc = qs + group * D;          // [group][max_split]: scores, then probabilities
  float* red = sc + group * max_split; // [teams][group][D]
  __shared__ float mh[kGroupMax], lh[kGroupMax];
  const int4 tk = tasks[blockIdx.x];
  const int kvh = blockIdx.y;
  const int4 sd = seqs[tk.x];
  const int64_t row = int64_t(sd.x) + tk.y;
  const int64_t len = int64_t(sd.y) + tk.y + 1;
  const int64_t j0 = int64_t(tk.z) * sd.w;
  const int64_t j1 = min(len, j0 + int64_t(sd.w));
  const int S = j1 > j0 ? int(j1 - j0) : 0;
  const int32_t* table = tables + sd.z;
  const int tid = threadIdx.x;
  for (int i = tid; i < group * D; i += blockDim.x)
    qs[i] = q[(row * n_heads + int64_t(kvh) * group) * D + i] * scale;
  __syncthreads();
  const T* K = static_cast<const T*>(kv.k);
  const T* V = static_cast<const T*>(kv.v);
  auto slot_off = [&](int64_t j) {
    return (int64_t(table[j / kv.block_tokens]) * kv.block_tokens + j % kv.block_tokens) * kv.row_elems + int64_t(kvh) * D;
  };
  for (int jj = tid; jj < S; jj += blockDim.x) {
    const T* kr = K + slot_off(j0 + jj);
    float s[kGroupMax];
#pragma unroll
    for (int g = 0; g < kGroupMax; ++g) s[g] = 0.f;
#pragma unroll 4
    for (int d = 0; d < D; d += 8) {
      float kf[8];
      load8(kr + d, kf);
#pragma unroll
      for (int g = 0; g < kGroupMax; ++g) {
        if (g < group) {
          const float4 a = *reinterpret_cast<const float4*>(qs + g * D + d);
          const float4 b = *reinterpret_cast<const float4*>(qs + g * D + d + 4);
          s[g] += kf[0] * a.x + kf[1] * a.y + kf[2] * a.z + kf[3] * a.w + kf[4] * b.x + kf[5] * b.y + kf[6] * b.z +
                  kf[7] * b.w;
        }
      }
    }
#pragma unroll
    for (int g = 0; g < kGroupMax; ++g)
      if (g < group) sc[g * max_split + jj] = s[g];
  }
  __syncthreads();
  const int warp = tid >> 5, lane = tid & 31, nw = blockDim.x >> 5;
  for (int g = warp; g < group; g += nw) {
    float m = -INFINITY;
    for (int jj = lane; jj < S; jj += 32) m = fmaxf(m, sc[g * max_split + jj]);
    m = warp_max(m);
    float l = 0.f;
    for (int jj = lane; jj < S; jj += 32) {
      const float p = expf(sc[g * max_split + jj] - m);
      sc[g * max_split + jj] = p;
      l += p;
    }
    l = warp_sum(l);
    if (lane == 0) {
      mh[g] = m;
      lh[g] = l;
    }
  }
  __syncthreads();
  const int td = D / 4, teams = blockDim.x / td, team = tid / td, li = tid % td;
  if (team < teams) {
    float acc[kGroupMax][4];
#pragma unroll
    for (int g = 0; g < kGroupMax; ++g) acc[g][0] = acc[g][1] = acc[g][2] = acc[g][3] = 0.f;
#pragma unroll 4
    for (int jj = team; jj < S; jj += teams) {
      float vf[4];
      load4(V + slot_off(j0 + jj) + 4 * li, vf);
#pragma unroll
      for (int g = 0; g < kGroupMax; ++g) {
        if (g < group) {
          const float p = sc[g * max_split + jj];
          acc[g][0] += p * vf[0];
          acc[g][1] += p * vf[1];
          acc[g][2] += p * vf[2];
          acc[g][3] += p * vf[3];
        }
      }
    }
#pragma unroll
    for (int g = 0; g < kGroupMax; ++g)
      if (g < group)
#pragma unroll
        for (int c = 0; c < 4; ++c) red[(team * group + g) * D + 4 * li + c] = acc[g][c];
  }
  __syncthreads();
  for (int i = tid; i < group * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float o = 0.f;
    for (int t = 0; t < teams; ++t) o += red[(t * group + g) * D + d];
    const int64_t h = int64_t(kvh) * group + g;
    if (tk.w == 1) out[(row * n_heads + h) * D + d] = o / lh[g];  // one split: S >= 1
    else part[(int64_t(blockIdx.x) * n_heads + h) * (D + 2) + 2 + d] = o;
  }
  if (tk.w > 1 && tid < group) {
    const int64_t h = int64_t(kvh) * group + tid;
    part[(int64_t(blockIdx.x) * n_heads + h) * (D + 2)] = S > 0 ? mh[tid] : -INFINITY;
    part[(int64_t(blockIdx.x) * n_heads + h) * (D + 2) + 1] = S > 0 ? lh[tid] : 0.f;
  }
}

// Rows split over several tasks: c = (stacked row, first task, splits); one block per (c, head).
// With out_h.p (every row split, so this pass writes all of out): out's 16-bit copy too, FP16 only.
__global__ void attention_batch_combine(const int4* __restrict__ rows, const float* __restrict__ part,
                                        float* __restrict__ out, int n_heads, int D, HalfOut out_h) {
  pdl_enter();
  const int4 c = rows[blockIdx.x];
  const int h = blockIdx.y;
  const int64_t o = (int64_t(c.x) * n_heads + h) * D;
  combine_splits(part + (int64_t(c.y) * n_heads + h) * (D + 2), int64_t(n_heads) * (D + 2), out + o, c.z, D,
                 out_h.p ? &out_h : nullptr, o);
}

// cluster: every row split this many times, merged inside the tensor-core decode kernel (FlashArgs::cluster;
// no combine pass), else 0.
template <class T, int DT>
void launch_batch(const BatchKv& kv, const int4* tasks, const int4* seqs, const int32_t* tables, const float* q,
                  float* out, float* part, const int4* comb, int64_t n_tasks, int64_t n_comb, int n_heads, int kvh,
                  int group, int D, int max_split, size_t smem, const FlashArgs& fa, bool flash_decode,
                  int64_t total_rows, int cluster) {
  FlashArgs dec = fa;  // decode rows on the tensor cores: n_tiles = tasks (0: the scalar kernel)
  dec.tasks = tasks;
  dec.n_tiles = flash_decode ? int(n_tasks) : 0;
  dec.part = part;
  dec.cluster = cluster;
  static bool attr = [] {
    QB_CUDA(cudaFuncSetAttribute(attention_batch_kernel<T, DT>, cudaFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024));
    return true;
  }();
  (void)attr;
  const float scale = 1.0f / std::sqrt(float(D));
  auto out_h = std::make_shared<HalfOut>();
  Launch l;
  l.key = key(0x210, kv.k, kv.v, kv.block_tokens, kv.row_elems, tasks, seqs, tables, q, out, part, comb, n_tasks,
              n_comb, n_heads, kvh, group, D, max_split, sizeof(T), DT, fa.n_tiles, fa.tasks, dec.n_tiles, cluster);
  // No prefill tiles and either every row split (the combine pass, or the clustered decode kernel's merge,
  // writes all of out) or, on the tensor-core decode kernel, none (it writes all of out): the writer may
  // write the o projection's FP16 copy with it.
  if (!fa.n_tiles && (n_comb == total_rows || (flash_decode && n_comb == 0)))
    // The combine pass also writes the int4 / GGUF GEMVs' forms (one value per thread, runs of 16 on 16
    // consecutive threads where D % 16 == 0); the tensor-core decode kernel FP16 only.
    offer_half_copy(l, out, total_rows * n_heads * D, out_h.get(),
                    n_comb == total_rows ? kCapF16 | kCapInt4Frag | (D % 16 == 0 ? kCapGgufQ8 : 0u) : kCapF16);
  l.run = [=](cudaStream_t s) {
    // One queued launch, up to three kernels: prefill tiles, decode rows, the splits' combine.
    if (fa.n_tiles) launch_flash_attention(fa, s);
    if (!n_tasks) return;
    if (debug_skip("attn")) return;
    if (dec.n_tiles) {  // the tensor-core kernel, same tasks and partials
      FlashArgs d = dec;
      if (!n_comb || cluster) d.form = *out_h;  // this kernel writes all of out: its offered forms too
      d.skip_merge = cluster && debug_skip("combine");
      launch_flash_decode(d, s);
      if (cluster) return;
    } else {
      launch_pdl(attention_batch_kernel<T, DT>, dim3(unsigned(n_tasks), unsigned(kvh)), kBatchThreads, smem, s,
                 kv, tasks, seqs, tables, q, out, part, n_heads, group, D, max_split, scale);
      QB_CUDA_LAUNCH("attention (batched)");
    }
    if (n_comb && !debug_skip("combine")) {
      launch_pdl(attention_batch_combine, dim3(unsigned(n_comb), unsigned(n_heads)), 128, 0, s, comb, part, out,
                 n_heads, D, *out_h);
      QB_CUDA_LAUNCH("attention combine (batched)");
    }
  };
  enqueue(std::move(l));
}

}  // namespace

unsigned long long g_cluster_merges = 0;
unsigned long long cluster_merges() { return g_cluster_merges; }

const int32_t* stage_pos_and_table(const KvCache& kv, int64_t pos0) {
  const auto& t = kv.blocks();
  if (t.empty()) throw Error("CUDA KV cache holds no blocks");
  if (pos0 < 0 || pos0 > INT32_MAX) throw Error("CUDA KV cache: position out of range");
  static thread_local std::vector<int32_t> blob;
  blob.assign(1, int32_t(pos0));
  blob.insert(blob.end(), t.begin(), t.end());
  return static_cast<const int32_t*>(stage(blob.data(), blob.size() * sizeof(int32_t), /*share=*/true));
}

void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows, int64_t n_heads) {
  const int64_t D = kv.head_dim(), kvh = kv.kv_heads();
  if (rows <= 0) return;
  if (kvh <= 0 || n_heads % kvh != 0) throw Error("attention: heads must be a multiple of KV heads");
  if (pos0 + rows > kv.max_tokens()) throw Error("attention: positions beyond the KV cache");
  const int32_t* pt = stage_pos_and_table(kv, pos0);
  PagedKv p{kv.pool().block_data(layer, 0, 0), kv.pool().block_data(layer, 1, 0), pt + 1,
            kv.pool().block_tokens() * kv.row_elems(), kv.pool().block_tokens(), kv.row_elems()};
  const int group = int(n_heads / kvh);
  const int32_t* pos0_dev = pt;
  const int64_t cap = kv.max_tokens();
  if (rows > kDecodeRows && use_flash(kv.type(), D)) {
    const int n_tiles = int((rows + kFlashTileRows - 1) / kFlashTileRows);
    const FlashArgs fa{p.k, p.v, p.block_tokens, p.row_elems, nullptr, nullptr, nullptr, pt, int(rows), n_tiles,
                       q, out, int(n_heads), group, int(D)};
    enqueue({key(0x220, fa.k, fa.v, fa.block_tokens, fa.row_elems, pt, rows, q, out, n_heads, group, D), true,
             [=](cudaStream_t s) { launch_flash_attention(fa, s); }});
    return;
  }
  if (kv.type() == KvType::F32) dispatch<float>(p, q, out, rows, int(n_heads), group, int(D), pos0_dev, cap);
  else dispatch<__half>(p, q, out, rows, int(n_heads), group, int(D), pos0_dev, cap);
}


bool attention_batch(int64_t layer, const Ops::SeqRows* seqs, int64_t count, const float* k, const float* v,
                     const float* q, float* out, int64_t n_heads, const std::function<bool(const KvRowStore&)>& fold) {
  if (count <= 0) return true;
  // One sequence: decode rows here (GPTQ 7B step on the H100, prompt 512: 2.96-3.02 ms against 3.05-3.10 with
  // attention()'s block per query head), a prefill in attention().
  static const bool grouped_decode = !env_equals("QBENCH_CUDA_GROUPED_DECODE", "0");
  if (count == 1 && (seqs[0].rows > kDecodeRows || !grouped_decode)) return false;
  KvBlockPool& pool = seqs[0].kv->pool();
  const int64_t D = pool.head_dim(), kvh = pool.kv_heads(), bt = pool.block_tokens(), re = pool.row_elems();
  if (kvh <= 0 || n_heads % kvh != 0) throw Error("attention: heads must be a multiple of KV heads");
  const int64_t group = n_heads / kvh;
  if (D % 8 != 0 || D > 256 || group > kGroupMax) return false;
  for (int64_t i = 0; i < count; ++i)
    if (&seqs[i].kv->pool() != &pool || seqs[i].kv->blocks().empty()) return false;
  int64_t total_rows = 0;
  for (int64_t i = 0; i < count; ++i) {
    const Ops::SeqRows& s = seqs[i];
    if (s.rows <= 0) throw Error("attention: a sequence without rows");
    if (s.pos0 < 0 || s.pos0 + s.rows > s.kv->max_tokens() || s.kv->max_tokens() > INT32_MAX)
      throw Error("attention: positions beyond the KV cache");
    total_rows += s.rows;
  }
  // Host blob, each part 16-byte aligned: [slot per row][seq: row0, pos0, table offset, split length]
  // [block tables][task: seq, row, split, splits][combine: row, first task, splits, 0]. The layers of one
  // pass see the same sequences: the blob is built once and re-staged (stage() shares equal blobs).
  struct SeqKey {
    const KvCache* kv;
    uint64_t pool;  // KvBlockPool::serial(): a pool freed and another made at its address must not match
    int64_t pos0, rows, blocks;
    bool operator==(const SeqKey& o) const {
      return kv == o.kv && pool == o.pool && pos0 == o.pos0 && rows == o.rows && blocks == o.blocks;
    }
  };
  static thread_local std::vector<SeqKey> last, now;
  static thread_local std::vector<int32_t> blob;
  static thread_local size_t seq_at = 0, table_at = 0, task_at = 0, comb_at = 0, flash_at = 0;
  static thread_local int64_t n_tasks = 0, n_comb = 0, max_split = 1, n_flash = 0;
  static thread_local int64_t split_all = 0;  // every sequence's rows split this many times (no prefill), else 0
  // Sequences with more than kDecodeRows rows (prefill) go to the flash kernel where it applies.
  const bool flash = use_flash(pool.type(), D);
  auto to_flash = [&](int64_t i) { return flash && seqs[i].rows > kDecodeRows; };
  now.clear();
  for (int64_t i = 0; i < count; ++i)
    now.push_back({seqs[i].kv, pool.serial(), seqs[i].pos0, seqs[i].rows, int64_t(seqs[i].kv->blocks().size())});
  bool same = now == last && !blob.empty();
  // A cache freed and another allocated at its address would match by pointer: the tables must match too.
  for (int64_t i = 0; same && i < count; ++i) {
    const auto& t = seqs[i].kv->blocks();
    same = std::equal(t.begin(), t.end(), blob.begin() + ptrdiff_t(table_at) + blob[seq_at + 4 * size_t(i) + 2]);
  }
  if (!same) {
  last = now;
  blob.clear();
  auto pad4 = [&] { while (blob.size() % 4) blob.push_back(0); };
  for (int64_t i = 0; i < count; ++i) {
    const Ops::SeqRows& s = seqs[i];
    const auto& t = s.kv->blocks();
    for (int64_t r = 0; r < s.rows; ++r) {
      const int64_t p = s.pos0 + r;
      blob.push_back(int32_t(int64_t(t[size_t(p / bt)]) * bt + p % bt));
    }
  }
  pad4();
  seq_at = blob.size();
  blob.resize(seq_at + size_t(4 * count));
  pad4();
  table_at = blob.size();
  // Splits: enough (row, KV head, split) blocks for the GPU (decode_blocks_per_sm), each split 64..1024 keys;
  // the count follows the sequence's capacity (fixed while it runs), so a decode step's launch repeats.
  int64_t split_rows = 0;  // rows of the split kernel
  for (int64_t i = 0; i < count; ++i)
    if (!to_flash(i)) split_rows += seqs[i].rows;
  const int64_t want = decode_blocks_per_sm() * int64_t(sm_count());
  const int64_t per_row = std::max<int64_t>(1, (want + split_rows * kvh - 1) / std::max<int64_t>(1, split_rows * kvh));
  n_tasks = 0, n_comb = 0, max_split = 1, n_flash = 0;
  static thread_local std::vector<int64_t> splits;
  splits.assign(size_t(count), 0);  // 0: the sequence's rows go to the flash kernel
  for (int64_t i = 0; i < count; ++i) {
    const Ops::SeqRows& s = seqs[i];
    if (to_flash(i)) {
      n_flash += (s.rows + kFlashTileRows - 1) / kFlashTileRows;
      continue;
    }
    const int64_t cap = s.kv->max_tokens();
    const int64_t lo = (cap + kMaxSplitLen - 1) / kMaxSplitLen, hi = std::max(lo, (cap + min_split_len() - 1) / min_split_len());
    const int64_t sp = std::min<int64_t>(std::clamp(per_row, lo, hi), kCombineMax);
    const int64_t len = (cap + sp - 1) / sp;
    splits[size_t(i)] = sp;
    max_split = std::max(max_split, len);
    n_tasks += s.rows * sp;
    if (sp > 1) n_comb += s.rows;
  }
  split_all = n_flash ? 0 : splits[0];
  for (int64_t i = 1; i < count; ++i)
    if (splits[size_t(i)] != split_all) split_all = 0;
  {
    int64_t row0 = 0;
    for (int64_t i = 0; i < count; ++i) {
      const Ops::SeqRows& s = seqs[i];
      const auto& t = s.kv->blocks();
      const int64_t sp = splits[size_t(i)];
      int32_t* d = blob.data() + seq_at + 4 * i;
      d[0] = int32_t(row0);
      d[1] = int32_t(s.pos0);
      d[2] = int32_t(blob.size() - table_at);
      d[3] = sp ? int32_t((s.kv->max_tokens() + sp - 1) / sp) : 0;
      blob.insert(blob.end(), t.begin(), t.end());  // may reallocate: d is not used after this
      row0 += s.rows;
    }
  }
  pad4();
  task_at = blob.size();
  for (int64_t i = 0; i < count; ++i)
    for (int64_t r = 0; r < seqs[i].rows; ++r)
      for (int64_t sp = 0; sp < splits[size_t(i)]; ++sp)
        blob.insert(blob.end(), {int32_t(i), int32_t(r), int32_t(sp), int32_t(splits[size_t(i)])});
  comb_at = blob.size();
  {
    int64_t row0 = 0, task = 0;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t sp = splits[size_t(i)];
      for (int64_t r = 0; r < seqs[i].rows; ++r) {
        if (sp > 1) blob.insert(blob.end(), {int32_t(row0 + r), int32_t(task), int32_t(sp), 0});
        task += sp;
      }
      row0 += seqs[i].rows;
    }
  }
  pad4();
  flash_at = blob.size();
  for (int64_t i = 0; i < count; ++i) {  // a task per 64-row tile, the longest (last) tiles first
    if (splits[size_t(i)]) continue;
    for (int64_t r0 = (seqs[i].rows - 1) / kFlashTileRows * kFlashTileRows; r0 >= 0; r0 -= kFlashTileRows)
      blob.insert(blob.end(), {int32_t(i), int32_t(r0), int32_t(std::min<int64_t>(kFlashTileRows, seqs[i].rows - r0)), 0});
  }
  }
  const auto* base = static_cast<const int32_t*>(stage(blob.data(), blob.size() * sizeof(int32_t), /*share=*/true));
  const int32_t* slots = base;
  const auto* seq_d = reinterpret_cast<const int4*>(base + seq_at);
  const int32_t* tables = base + table_at;
  const auto* task_d = reinterpret_cast<const int4*>(base + task_at);
  const auto* comb_d = reinterpret_cast<const int4*>(base + comb_at);
  const auto* flash_d = reinterpret_cast<const int4*>(base + flash_at);

  // Every row's K and V into its slot.
  void* kb = pool.block_data(layer, 0, 0);
  void* vb = pool.block_data(layer, 1, 0);
  const bool f32 = pool.type() == KvType::F32;
  const int64_t n = total_rows * re;
  if (!fold || !fold({kb, vb, slots, re, total_rows, k, v, f32})) {
    enqueue({key(0x211, kb, vb, slots, re, k, v, total_rows, f32), true, [=](cudaStream_t s) {
               const unsigned blocks = unsigned((n + 255) / 256);
               if (f32)
                 launch_pdl(kv_store_rows_kernel<float>, blocks, 256, 0, s, static_cast<float*>(kb), static_cast<float*>(vb),
                            slots, re, k, v, total_rows);
               else
                 launch_pdl(kv_store_rows_kernel<__half>, blocks, 256, 0, s, static_cast<__half*>(kb),
                            static_cast<__half*>(vb), slots, re, k, v, total_rows);
               QB_CUDA_LAUNCH("kv_store (batched)");
             }});
  }

  // Splits merged in a thread-block cluster (fold_control.h cluster_merge_enabled): the tensor-core decode
  // kernel, every row split alike, a cluster size the GPU takes.
  const int cluster = flash && split_all > 1 && cluster_merge_enabled() && flash_decode_cluster_supported(int(split_all), D)
                          ? int(split_all) : 0;
  if (cluster) ++g_cluster_merges;
  float* part = nullptr;
  if (n_comb && !cluster)
    part = static_cast<float*>(scratch(Scratch::AttentionPartials, size_t(n_tasks * n_heads * (D + 2)) * sizeof(float)));
  const int teams = int(kBatchThreads / (D / 4));
  const size_t smem = size_t(group * D + group * max_split + int64_t(teams) * group * D) * sizeof(float);
  const BatchKv bkv{kb, vb, bt, re};
  const int g = int(group), h = int(n_heads), dd = int(D), ms = int(max_split), kh = int(kvh);
  const FlashArgs fa{kb, vb, bt, re, flash_d, seq_d, tables, nullptr, 0, int(n_flash),
                     q, out, h, g, dd};
  if (f32) {
    if (D == 128) launch_batch<float, 128>(bkv, task_d, seq_d, tables, q, out, part, comb_d, n_tasks, n_comb, h, kh, g, dd, ms, smem, fa, flash, total_rows, cluster);
    else if (D == 64) launch_batch<float, 64>(bkv, task_d, seq_d, tables, q, out, part, comb_d, n_tasks, n_comb, h, kh, g, dd, ms, smem, fa, flash, total_rows, cluster);
    else launch_batch<float, 0>(bkv, task_d, seq_d, tables, q, out, part, comb_d, n_tasks, n_comb, h, kh, g, dd, ms, smem, fa, flash, total_rows, cluster);
  } else {
    if (D == 128) launch_batch<__half, 128>(bkv, task_d, seq_d, tables, q, out, part, comb_d, n_tasks, n_comb, h, kh, g, dd, ms, smem, fa, flash, total_rows, cluster);
    else if (D == 64) launch_batch<__half, 64>(bkv, task_d, seq_d, tables, q, out, part, comb_d, n_tasks, n_comb, h, kh, g, dd, ms, smem, fa, flash, total_rows, cluster);
    else launch_batch<__half, 0>(bkv, task_d, seq_d, tables, q, out, part, comb_d, n_tasks, n_comb, h, kh, g, dd, ms, smem, fa, flash, total_rows, cluster);
  }
  return true;
}

}  // namespace qbench::cuda
