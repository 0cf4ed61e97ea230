#include "engines/cuda/attention_flash_cuda.h"

#include <cooperative_groups.h>

#include <cmath>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/mma.cuh"
#include "engines/cuda/half_out_store.cuh"
#include "engines/cuda/pdl.cuh"
#include "engines/cuda/split_combine.cuh"

namespace qbench::cuda {

namespace {

constexpr int kKeys = 64;      // keys per shared-memory tile
constexpr int kThreads = 128;  // 4 warps x 16 query rows = kFlashTileRows
static_assert(kThreads / 32 * 16 == kFlashTileRows, "a warp per 16 query rows");

// Padded rows (D + 8 halves): the 8 row addresses of an ldmatrix fall in distinct banks.
template <int D>
__host__ __device__ constexpr int smem_bytes() {
  return 2 /*stages*/ * 2 /*K, V*/ * kKeys * (D + 8) * int(sizeof(__half));
}

// ---- Pieces of both kernels: a warp holds 16 query rows (A fragments) against K/V tiles in shared memory.

// The lane's A fragments of 16 query rows, scaled by log2(e)/sqrt(D) (scores in the exp2 domain), hi + lo;
// row(i) gives query row i's D floats, nullptr for a padding row (zeros).
template <int D, class Row>
__device__ __forceinline__ void load_q(uint32_t (&qh)[D / 16][4], uint32_t (&ql)[D / 16][4], Row row, float qscale,
                                       int lane) {
  const int g = lane >> 2, c = lane & 3;
  const float* r0 = row(g);
  const float* r1 = row(g + 8);
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float* r = (i & 1) ? r1 : r0;
      const int col = 16 * ks + 2 * c + 8 * (i >> 1);
      const float2 x = r ? *reinterpret_cast<const float2*>(r + col) : make_float2(0.f, 0.f);
      split_half2(x.x * qscale, x.y * qscale, qh[ks][i], ql[ks][i]);
    }
}

// K and V rows of keys [k0, k0 + kKeys) of KV head kvh into buffer `buf` (cp.async, one commit group);
// keys at or past `end` become zeros (finite scores; the caller masks them).
template <int D, int U = kKeys * (D / 8) / kThreads>
__device__ __forceinline__ void load_kv_tile(__half* Ks, __half* Vs, int buf, const FlashArgs& a, const int32_t* table,
                                             int kvh, int k0, int end) {
  constexpr int LD = D + 8, CH = D / 8;  // 16-byte chunks per row
  const __half* K = static_cast<const __half*>(a.k);
  const __half* V = static_cast<const __half*>(a.v);
  const int bt = int(a.block_tokens);
  // Unrolled by U: the block-table reads of U chunks are issued together, where a rolled loop waited on each
  // before its copy could start (H100, 7B batch-64 step: 7.59 -> 7.50 ms, same run). The decode kernel
  // unrolls fully; the prefill kernel, at its register limit, by 2 (fully: 40 bytes spilled).
  static_assert(kKeys * CH % kThreads == 0, "every thread copies the same number of chunks");
#pragma unroll U
  for (int it = 0; it < kKeys * CH / kThreads; ++it) {
    const int i = int(threadIdx.x) + it * kThreads;
    const int r = i / CH, ch = i % CH, j = k0 + r;
    const bool ok = j < end;
    const int64_t off = ok ? (int64_t(table[j / bt]) * bt + j % bt) * a.row_elems + int64_t(kvh) * D + ch * 8 : 0;
    cp_async16(Ks + (buf * kKeys + r) * LD + ch * 8, K + off, ok);
    cp_async16(Vs + (buf * kKeys + r) * LD + ch * 8, V + off, ok);
  }
  cp_async_commit();
}

// s = Q·Kᵀ for NJ n-tiles of 8 keys from row kr of the K tile (NJ even): hi products of all tiles, then the
// lo ones, so no MMA waits on the one just issued.
template <int D, int NJ>
__device__ __forceinline__ void tile_scores(float (&s)[NJ][4], const uint32_t (&qh)[D / 16][4],
                                            const uint32_t (&ql)[D / 16][4], const __half* Kt, int kr, int lane) {
  constexpr int LD = D + 8;
#pragma unroll
  for (int j = 0; j < NJ; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    // Matrices: keys 16jp..+7 at d 16ks and 16ks+8 (b0, b1 of tile 2jp), then keys 16jp+8..+15 (tile 2jp+1).
    uint32_t b[NJ / 2][4];
#pragma unroll
    for (int jp = 0; jp < NJ / 2; ++jp)
      ldmatrix_x4(b[jp], Kt + (kr + 16 * jp + 8 * (lane >> 4) + (lane & 7)) * LD + 16 * ks + 8 * ((lane >> 3) & 1));
#pragma unroll
    for (int jp = 0; jp < NJ / 2; ++jp) {
      mma_16816(s[2 * jp], qh[ks][0], qh[ks][1], qh[ks][2], qh[ks][3], b[jp][0], b[jp][1]);
      mma_16816(s[2 * jp + 1], qh[ks][0], qh[ks][1], qh[ks][2], qh[ks][3], b[jp][2], b[jp][3]);
    }
#pragma unroll
    for (int jp = 0; jp < NJ / 2; ++jp) {
      mma_16816(s[2 * jp], ql[ks][0], ql[ks][1], ql[ks][2], ql[ks][3], b[jp][0], b[jp][1]);
      mma_16816(s[2 * jp + 1], ql[ks][0], ql[ks][1], ql[ks][2], ql[ks][3], b[jp][2], b[jp][3]);
    }
  }
}

// Online softmax over the tile's scores of rows g (r = 0) and g + 8 (r = 1), whose values lie on a quad of
// lanes: rescales o and the lane's partial sums l, turns s into probabilities.
template <int NJ, int NT>
__device__ __forceinline__ void softmax_update(float (&s)[NJ][4], float (&m)[2], float (&l)[2], float (&o)[NT][4]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < NJ; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mn = fmaxf(m[r], mx);
    const float mu = mn == -INFINITY ? 0.f : mn;  // a row with no key yet stays empty
    const float corr = exp2f(m[r] - mu);
    m[r] = mn;
    l[r] *= corr;
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      o[n][2 * r] *= corr;
      o[n][2 * r + 1] *= corr;
    }
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
      s[j][2 * r] = exp2f(s[j][2 * r] - mu);
      s[j][2 * r + 1] = exp2f(s[j][2 * r + 1] - mu);
      l[r] += s[j][2 * r] + s[j][2 * r + 1];
    }
  }
}

// o += P·V over the 8·NJ keys from row kr of the V tile: the S accumulators of tiles 2kk, 2kk + 1 are P's A
// fragment for keys 16kk..16kk + 15. Two 16-wide d slices at a time (4 n-tiles): hi products, then lo.
template <int D, int NJ>
__device__ __forceinline__ void accumulate_pv(float (&o)[D / 8][4], const float (&s)[NJ][4], const __half* Vt, int kr,
                                              int lane) {
  constexpr int LD = D + 8, kHalfNt = D / 16;
#pragma unroll
  for (int kk = 0; kk < NJ / 2; ++kk) {
    uint32_t ph[4], pl[4];
    split_half2(s[2 * kk][0], s[2 * kk][1], ph[0], pl[0]);
    split_half2(s[2 * kk][2], s[2 * kk][3], ph[1], pl[1]);
    split_half2(s[2 * kk + 1][0], s[2 * kk + 1][1], ph[2], pl[2]);
    split_half2(s[2 * kk + 1][2], s[2 * kk + 1][3], ph[3], pl[3]);
#pragma unroll
    for (int np = 0; np < kHalfNt; np += 2) {
      const bool two = np + 1 < kHalfNt;  // resolved at compile time (unrolled)
      // Transposed: keys 16kk..+7 and +8..+15 at d 16np (b0, b1 of n-tile 2np), then at d 16np+8.
      uint32_t b[2][4];
#pragma unroll
      for (int u = 0; u < 2; ++u)
        if (u == 0 || two)
          ldmatrix_x4_trans(b[u], Vt + (kr + 16 * kk + 8 * ((lane >> 3) & 1) + (lane & 7)) * LD + 16 * (np + u) +
                                      8 * (lane >> 4));
#pragma unroll
      for (int u = 0; u < 2; ++u)
        if (u == 0 || two) {
          mma_16816(o[2 * (np + u)], ph[0], ph[1], ph[2], ph[3], b[u][0], b[u][1]);
          mma_16816(o[2 * (np + u) + 1], ph[0], ph[1], ph[2], ph[3], b[u][2], b[u][3]);
        }
#pragma unroll
      for (int u = 0; u < 2; ++u)
        if (u == 0 || two) {
          mma_16816(o[2 * (np + u)], pl[0], pl[1], pl[2], pl[3], b[u][0], b[u][1]);
          mma_16816(o[2 * (np + u) + 1], pl[0], pl[1], pl[2], pl[3], b[u][2], b[u][3]);
        }
    }
  }
}

// ---- Prefill: a block per (64-row tile, query head), a warp per 16 rows, all keys up to the tile's last row.
template <int D>
__global__ void __launch_bounds__(kThreads) flash_kernel(FlashArgs a, float qscale) {
  pdl_enter();
  constexpr int LD = D + 8, NT = D / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  __half* Ks = reinterpret_cast<__half*>(smem);  // [2][kKeys][LD]
  __half* Vs = Ks + 2 * kKeys * LD;

  // The tile: stacked row and position of its first query, its rows, the sequence's block table.
  int64_t row0, p0;
  int nrows;
  const int32_t* table;
  if (a.tasks) {
    const int4 t = a.tasks[blockIdx.x];
    const int4 sq = a.seqs[t.x];
    row0 = int64_t(sq.x) + t.y;
    p0 = int64_t(sq.y) + t.y;
    nrows = t.z;
    table = a.tables + sq.z;
  } else {
    const int tile = a.n_tiles - 1 - int(blockIdx.x);  // the longest tiles start first
    row0 = int64_t(tile) * kFlashTileRows;
    p0 = a.pos0_table[0] + row0;
    nrows = min(kFlashTileRows, a.rows - int(row0));
    table = a.pos0_table + 1;
  }
  const int h = blockIdx.y, kvh = h / a.group;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int kv_end = int(p0) + nrows;  // keys [0, kv_end) are read
  const int n_kt = (kv_end + kKeys - 1) / kKeys;
  const int wr = warp * 16;  // the warp's first row in the tile
  const bool active = wr < nrows;
  const int wlast = int(p0) + min(wr + 15, nrows - 1);  // the warp's last position
  const int64_t qstride = int64_t(a.n_heads) * D;

  uint32_t qh[D / 16][4], ql[D / 16][4];
  load_q<D>(qh, ql, [&](int i) -> const float* {
    return wr + i < nrows ? a.q + (row0 + wr + i) * qstride + int64_t(h) * D : nullptr;
  }, qscale, lane);
  float o[NT][4];
#pragma unroll
  for (int n = 0; n < NT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int pos[2] = {int(p0) + wr + g, int(p0) + wr + g + 8};

  load_kv_tile<D, 2>(Ks, Vs, 0, a, table, kvh, 0, kv_end);
  for (int kt = 0; kt < n_kt; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < n_kt) {
      load_kv_tile<D, 2>(Ks, Vs, buf ^ 1, a, table, kvh, (kt + 1) * kKeys, kv_end);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const int k0 = kt * kKeys;
    if (active && k0 <= wlast) {
      const __half* Kt = Ks + buf * kKeys * LD;
      const __half* Vt = Vs + buf * kKeys * LD;
      float s[8][4];  // n-tile j: keys k0 + 8j .. + 7
      tile_scores<D, 8>(s, qh, ql, Kt, 0, lane);
      if (k0 + kKeys - 1 > int(p0) + wr) {  // causal mask where a key may follow a row
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (k0 + 8 * j + 2 * c + (e & 1) > pos[e >> 1]) s[j][e] = -INFINITY;
      }
      softmax_update<8, NT>(s, m, l, o);
      accumulate_pv<D, 8>(o, s, Vt, 0, lane);
    }
    __syncthreads();  // this buffer is refilled by the next iteration's load
  }
  if (!active) return;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const int row = wr + g + 8 * r;
    if (row >= nrows) continue;
    const float inv = 1.f / l[r];
    float* dst = a.out + (row0 + row) * qstride + int64_t(h) * D;
#pragma unroll
    for (int n = 0; n < NT; ++n)
      *reinterpret_cast<float2*>(dst + 8 * n + 2 * c) = make_float2(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
  }
}

// ---- Decode rows of a batched pass: a block per (task, KV head); the group's query heads of the task's row
// are the 16 rows of the MMA tile (GQA: each K/V row is read once for all of them), the 4 warps take 16 keys
// each of every 64-key tile, then merge through shared memory. Task = (sequence, row, split, splits) as in
// attention_cuda.cu's batched kernel, whose combine pass merges the splits (partials in the natural-log domain).
// CLUSTER (a.cluster splits per row, sm_90): the row's splits of one KV head are one thread-block cluster (task
// order puts them on consecutive blocks, the cluster rank being the split). Each split writes its partial of
// query head i straight into the shared memory of block i % S (distributed shared memory; stores, so nothing
// waits on a remote read), one cluster barrier, and block r merges heads r, r + S, ... from its own shared
// memory: neither the partials' round trip through global memory nor the combine launch remains. (Each block
// keeping its partials and the merging blocks reading them remotely, with a second barrier so that no block
// left early, was slower: GPTQ 7B step 2.386-2.388 ms against 2.362-2.363 pushed, 2.385 with the combine launch.)
template <int D, bool CLUSTER>
__global__ void __launch_bounds__(kThreads) flash_decode_kernel(FlashArgs a, float qscale) {
  pdl_enter();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // This block has started: once the cluster's first barrier phase completes, others may write its inbox.
  if constexpr (CLUSTER) asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
#endif
  constexpr int LD = D + 8, NT = D / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  __half* Ks = reinterpret_cast<__half*>(smem);
  __half* Vs = Ks + 2 * kKeys * LD;
  const int4 tk = a.tasks[blockIdx.x];
  const int4 sd = a.seqs[tk.x];
  const int kvh = blockIdx.y;
  const int64_t row = int64_t(sd.x) + tk.y;
  const int len = sd.y + tk.y + 1;
  const int j0 = tk.z * sd.w, j1 = min(len, j0 + sd.w);
  const int32_t* table = a.tables + sd.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int group = a.group;

  uint32_t qh[D / 16][4], ql[D / 16][4];
  load_q<D>(qh, ql, [&](int i) -> const float* {
    return i < group ? a.q + (row * a.n_heads + int64_t(kvh) * group + i) * D : nullptr;
  }, qscale, lane);
  float o[NT][4];
#pragma unroll
  for (int n = 0; n < NT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

  const int n_kt = j1 > j0 ? (j1 - j0 + kKeys - 1) / kKeys : 0;
  if (n_kt) load_kv_tile<D>(Ks, Vs, 0, a, table, kvh, j0, j1);
  for (int kt = 0; kt < n_kt; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < n_kt) {
      load_kv_tile<D>(Ks, Vs, buf ^ 1, a, table, kvh, j0 + (kt + 1) * kKeys, j1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const int kb = j0 + kt * kKeys + 16 * warp;  // the warp's first key
    if (kb < j1) {
      float s[2][4];
      tile_scores<D, 2>(s, qh, ql, Ks + buf * kKeys * LD, 16 * warp, lane);
      if (kb + 15 >= j1) {
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (kb + 8 * j + 2 * c + (e & 1) >= j1) s[j][e] = -INFINITY;
      }
      softmax_update<2, NT>(s, m, l, o);
      accumulate_pv<D, 2>(o, s, Vs + buf * kKeys * LD, 16 * warp, lane);
    }
    __syncthreads();
  }
  // Merge the warps (the K/V buffers are free now): per warp, row i's (max, sum) and unnormalised O.
  float* red = reinterpret_cast<float*>(smem);  // [4][16][D]
  float* ml = red + 4 * 16 * D;                 // [4][16][2]
  // CLUSTER: the partials of the query heads this block merges (r, r + S, ...), [head slot][split][D + 2], past
  // the K/V buffers (other blocks write it while this one may still be reading its tiles).
  float* inbox = reinterpret_cast<float*>(smem + smem_bytes<D>());
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (CLUSTER) asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");  // every block has started
#endif
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const int i = g + 8 * r;
    if (c == 0) {
      ml[(warp * 16 + i) * 2] = m[r];
      ml[(warp * 16 + i) * 2 + 1] = l[r];
    }
#pragma unroll
    for (int n = 0; n < NT; ++n)
      *reinterpret_cast<float2*>(red + (warp * 16 + i) * D + 8 * n + 2 * c) = make_float2(o[n][2 * r], o[n][2 * r + 1]);
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < group * D; idx += kThreads) {
    const int i = idx / D, d = idx % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < 4; ++w) M = fmaxf(M, ml[(w * 16 + i) * 2]);
    float L = 0.f, O = 0.f;
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        const float e = exp2f(ml[(w * 16 + i) * 2] - M);  // 0 for a warp that saw no key
        L += ml[(w * 16 + i) * 2 + 1] * e;
        O += red[(w * 16 + i) * D + d] * e;
      }
    }
    const int64_t h = int64_t(kvh) * group + i;
    if (tk.w == 1) {
      a.out[(row * a.n_heads + h) * D + d] = O / L;  // one split: at least one key
      if (a.form.type != HalfType::None) store_half1(a.form, (row * a.n_heads + h) * D + d, O / L);
    } else {
      float* p = a.part + (int64_t(blockIdx.x) * a.n_heads + h) * (D + 2);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
      if constexpr (CLUSTER) {  // straight into the merging block's inbox (head i: rank i % S, slot i / S)
        const int S = tk.w;
        p = cooperative_groups::this_cluster().map_shared_rank(inbox, i % S) + ((i / S) * S + tk.z) * (D + 2);
      }
#endif
      p[2 + d] = O;
      if (d == 0) {
        p[0] = M == -INFINITY ? -INFINITY : M * 0.6931471805599453f;  // exp2 domain -> natural log
        p[1] = L;
      }
    }
  }
  if constexpr (CLUSTER) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    namespace cg = cooperative_groups;
    cg::cluster_group cl = cg::this_cluster();
    cl.sync();  // every split's partials written into the inboxes and visible (no remote access after this)
    if (a.skip_merge) return;
    // Block r merges query heads r, r + S, ... (S = splits = cluster size; the group may outnumber it).
    const int r = int(cl.block_rank()), S = tk.w;
    const HalfOut* form = a.form.type != HalfType::None ? &a.form : nullptr;
    for (int hd = r, k = 0; hd < group; hd += S, ++k) {
      if (k) __syncthreads();  // the merge's shared (max, sum) arrays are reused
      const int64_t e0 = (row * a.n_heads + int64_t(kvh) * group + hd) * D;
      const float* box = inbox + k * S * (D + 2);
      combine_split_partials<kFlashClusterMax>([&](int sp, int j) { return box[sp * (D + 2) + j]; }, a.out + e0, S, D,
                                               form, e0);
    }
#else
    __trap();  // launched only where flash_decode_cluster_supported (sm_90+)
#endif
  }
}

// The clustered decode kernel's shared memory: the K/V buffers, then the merge's inbox (at most 31 partials:
// S * ceil(group / S) with S <= 16, group <= 16).
template <int D>
constexpr int cluster_smem_bytes() {
  return smem_bytes<D>() + 32 * (D + 2) * int(sizeof(float));
}

// The clustered decode kernel's attributes, once: its shared memory and clusters past the portable 8.
template <int D>
void set_cluster_attrs() {
  static const bool done = [] {
    QB_CUDA(cudaFuncSetAttribute(flash_decode_kernel<D, true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 cluster_smem_bytes<D>()));
    QB_CUDA(cudaFuncSetAttribute(flash_decode_kernel<D, true>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    return true;
  }();
  (void)done;
}

template <int D>
void launch_d(const FlashArgs& a, cudaStream_t s, bool decode) {
  static const bool attr = [] {
    QB_CUDA(cudaFuncSetAttribute(flash_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<D>()));
    QB_CUDA(cudaFuncSetAttribute(flash_decode_kernel<D, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<D>()));
    return true;
  }();
  (void)attr;
  static_assert(4 * 16 * D * 4 + 4 * 16 * 2 * 4 <= smem_bytes<D>(), "the decode merge fits in the K/V buffers");
  const float qscale = 1.4426950408889634f / std::sqrt(float(D));  // log2(e) / sqrt(D)
  if (decode) {
    const dim3 grid(unsigned(a.n_tiles), unsigned(a.n_heads / a.group));
    if (a.cluster > 1) {
      set_cluster_attrs<D>();
      launch_pdl_clustered(flash_decode_kernel<D, true>, grid, kThreads, size_t(cluster_smem_bytes<D>()), s,
                           unsigned(a.cluster), a, qscale);
      QB_CUDA_LAUNCH("flash attention (decode rows, clustered)");
      return;
    }
    launch_pdl(flash_decode_kernel<D, false>, grid, kThreads, size_t(smem_bytes<D>()), s, a, qscale);
    QB_CUDA_LAUNCH("flash attention (decode rows)");
  } else {
    launch_pdl(flash_kernel<D>, dim3(unsigned(a.n_tiles), unsigned(a.n_heads)), kThreads, size_t(smem_bytes<D>()), s, a,
               qscale);
    QB_CUDA_LAUNCH("flash attention");
  }
}

template <class F>
void by_head_dim(int D, F f) {
  switch (D) {
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 80: return f(std::integral_constant<int, 80>{});
    case 96: return f(std::integral_constant<int, 96>{});
    case 128: return f(std::integral_constant<int, 128>{});
    default: throw Error("flash attention: head_dim " + std::to_string(D) + " is not instantiated");
  }
}

}  // namespace

bool flash_attention_supports(int64_t head_dim) {
  return head_dim == 32 || head_dim == 64 || head_dim == 80 || head_dim == 96 || head_dim == 128;
}

bool flash_decode_cluster_supported(int splits, int64_t head_dim) {
  if (splits < 2 || splits > kFlashClusterMax || !flash_attention_supports(head_dim)) return false;
  static std::map<std::pair<int, int64_t>, bool> known;
  const auto k = std::make_pair(splits, head_dim);
  auto it = known.find(k);
  if (it != known.end()) return it->second;
  int dev = 0, major = 0;
  QB_CUDA(cudaGetDevice(&dev));
  QB_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  bool ok = false;
  if (major >= 9) {
    by_head_dim(int(head_dim), [&](auto d) {
      constexpr int DD = decltype(d)::value;
      set_cluster_attrs<DD>();
      cudaLaunchConfig_t cfg{};
      cfg.gridDim = dim3(unsigned(splits), 1);
      cfg.blockDim = dim3(kThreads);
      cfg.dynamicSmemBytes = size_t(cluster_smem_bytes<DD>());
      cudaLaunchAttribute attr[1];
      attr[0].id = cudaLaunchAttributeClusterDimension;
      attr[0].val.clusterDim.x = unsigned(splits);
      attr[0].val.clusterDim.y = attr[0].val.clusterDim.z = 1;
      cfg.attrs = attr;
      cfg.numAttrs = 1;
      int n = 0;
      ok = cudaOccupancyMaxActiveClusters(&n, flash_decode_kernel<DD, true>, &cfg) == cudaSuccess && n > 0;
      (void)cudaGetLastError();  // a refused size is an answer, not an error to report later
    });
  }
  known[k] = ok;
  return ok;
}

void launch_flash_attention(const FlashArgs& a, cudaStream_t s) {
  by_head_dim(a.head_dim, [&](auto d) { launch_d<decltype(d)::value>(a, s, false); });
}

void launch_flash_decode(const FlashArgs& a, cudaStream_t s) {
  if (a.group > 16) throw Error("flash decode: more than 16 query heads per KV head");
  by_head_dim(a.head_dim, [&](auto d) { launch_d<decltype(d)::value>(a, s, true); });
}

}  // namespace qbench::cuda
