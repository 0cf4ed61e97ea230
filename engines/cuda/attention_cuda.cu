#include "engines/cuda/attention_cuda.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/launch_queue.h"

namespace qbench::cuda {

namespace {

constexpr int kWarps = 4;             // warps per (query row, head); each takes every 4th key
// Decode: one split per this many keys of the cache's capacity. Small splits keep
// each warp's chain of dependent loads short (a 768-slot cache: 24 splits, 28 heads -> 672 blocks).
constexpr int64_t kSplitKeys = 32;
constexpr int64_t kMaxSplits = 64;

struct PagedKv {
  const void* k;        // block_data(layer, 0, 0)
  const void* v;        // block_data(layer, 1, 0)
  const int32_t* table; // device block table
  int64_t block_elems;  // elements per block (block_tokens * row_elems)
  int64_t block_tokens, row_elems;
};

// One block per (query row, head) and split of the context. Each warp runs an
// online softmax over its keys with E = ceil(head_dim/32) elements per lane,
// then the warps merge through shared memory. With partials == nullptr the
// block writes the normalised output; else (max, sum, unnormalised acc).
template <class T, int E>
__global__ void attention_kernel(PagedKv kv, const float* __restrict__ q, float* __restrict__ out,
                                 float* __restrict__ partials, int n_heads, int group, int D,
                                 const int32_t* __restrict__ pos0p, int rows, float scale) {
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
}

// Merges the splits of each (row, head): out = sum_s acc_s e^(m_s-M) / sum_s l_s e^(m_s-M).
__global__ void attention_combine(const float* __restrict__ partials, float* __restrict__ out, int splits, int D) {
  const int rh = blockIdx.x;
  const float* p = partials + int64_t(rh) * splits * (D + 2);
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, p[s * (D + 2)]);
  float L = 0.f;
  for (int s = 0; s < splits; ++s) {
    const float ms = p[s * (D + 2)];
    if (ms != -INFINITY) L += p[s * (D + 2) + 1] * expf(ms - M);
  }
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    float o = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float ms = p[s * (D + 2)];
      if (ms != -INFINITY) o += p[s * (D + 2) + 2 + i] * expf(ms - M);
    }
    out[int64_t(rh) * D + i] = o / L;
  }
}

template <class T, int E>
void launch(const PagedKv& kv, const float* q, float* out, int64_t rows, int n_heads, int group, int D,
            const int32_t* pos0, int64_t capacity) {
  const float scale = 1.0f / std::sqrt(float(D));
  // Few query rows over a long context leave most SMs idle: split the context.
  // Splits follow the capacity (fixed for a sequence), each split's length the position (on the device).
  int64_t splits = 1;
  if (rows <= 4) splits = std::clamp<int64_t>((capacity + kSplitKeys - 1) / kSplitKeys, 1, kMaxSplits);
  const dim3 grid(unsigned(rows * n_heads), unsigned(splits));
  float* part = nullptr;
  if (splits > 1)
    part = static_cast<float*>(scratch(Scratch::AttentionPartials, size_t(rows * n_heads * splits * (D + 2)) * sizeof(float)));
  enqueue({key(0x200, kv.k, kv.v, kv.table, kv.block_elems, kv.block_tokens, kv.row_elems, q, out, part, rows, n_heads,
               group, D, pos0, splits, E, sizeof(T)),
           true, [=](cudaStream_t s) {
             attention_kernel<T, E><<<grid, kWarps * 32, 0, s>>>(kv, q, out, part, n_heads, group, D, pos0, int(rows), scale);
             QB_CUDA_LAUNCH("attention");
             if (part) {
               attention_combine<<<unsigned(rows * n_heads), 128, 0, s>>>(part, out, int(splits), D);
               QB_CUDA_LAUNCH("attention combine");
             }
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

}  // namespace

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
  if (kv.type() == KvType::F32) dispatch<float>(p, q, out, rows, int(n_heads), group, int(D), pos0_dev, cap);
  else dispatch<__half>(p, q, out, rows, int(n_heads), group, int(D), pos0_dev, cap);
}

}  // namespace qbench::cuda
