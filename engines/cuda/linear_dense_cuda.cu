#include "engines/cuda/linear_dense_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/cuda/cublas_gemm.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/gemv_args.h"
#include "engines/cuda/fold_control.h"
#include "engines/cuda/gemv_fusion.h"
#include "engines/cuda/half_copy.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/pdl.cuh"

namespace qbench {

namespace cuda {
namespace {

// The GEMV (weights read once, FP32 activations) takes up to this many tokens where the tensor-core
// kernel cannot (F32 weights, in % 8 != 0); auto_dense_path picks among them.
constexpr int kMaxGemvTokens = 8;
constexpr int kGemvWarps = 4;   // output rows per 128-thread block: small blocks spread evenly over the SMs
// 16-byte weight loads each lane has in flight before it uses them: 8 at batch 1
// (a 3584-wide row is two round trips), 4 for up to 8 tokens (registers).
template <int NT>
constexpr int kUnroll = 4;
// Tensor-core decode GEMM (2..kTcMaxTokens tokens, 16-bit weights).
constexpr int kTcMaxTokens = 64;   // the kernel's limit
// auto_dense_path's: from 8 tokens cuBLAS is faster on the H100 (7B step at 8 / 16 sequences: 6.78 / 7.10 ms vs
// 7.01 / 8.32 on this kernel, after q/k/v merging and the launch folds; the bound was 16 before them).
constexpr int kTcAutoTokens = 7;
constexpr int kTcSplitTokens = 16;  // up to here activations are split hi + lo (about FP32 accurate)
constexpr int kTcWarps = 8;         // per block: mb m-tiles (16 rows each) x kw k-splits
constexpr int kTcU = 4;             // 32-wide k chunks a warp has in flight (2 x 16-byte weight loads each)

DensePath g_forced = DensePath::Auto;

// Eight consecutive weights as floats from one 16-byte streaming load (two for F32).
// The weights are read once per token and never fit in L2: load them evict-first.
struct W8 {
  uint4 u[sizeof(float) / 2];  // F32 needs two
};
template <class T>
__device__ __forceinline__ void ld8(const T* p, W8& w) {
  const uint4* q = reinterpret_cast<const uint4*>(p);
  w.u[0] = __ldcs(q);
  if constexpr (sizeof(T) == 4) w.u[1] = __ldcs(q + 1);
}
__device__ __forceinline__ void cvt8(const W8& w, const __half*, float* f) {
  const __half2* h = reinterpret_cast<const __half2*>(&w.u[0]);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void cvt8(const W8& w, const __nv_bfloat16*, float* f) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&w.u[0]);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void cvt8(const W8& w, const float*, float* f) {
  const float* a = reinterpret_cast<const float*>(&w.u[0]);
#pragma unroll
  for (int i = 0; i < 8; ++i) f[i] = a[i];
}

template <class T, int NT>
__device__ __forceinline__ void fma8(const float* w, const float* __restrict__ x, int64_t in, int64_t k, int n, float* acc) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t < n) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(x + t * in + k));
      const float4 b = __ldg(reinterpret_cast<const float4*>(x + t * in + k + 4));
      acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
    }
  }
}

// y_s[t, row] = x[t, :] · W_s[row, :] for t < n (n <= NT), one warp per output row.
// VEC: in % 8 == 0, so rows are 16-byte aligned and read 16 bytes per lane.
template <class T, int NT, bool VEC>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(GemvArgs a, const float* __restrict__ x) {
  pdl_enter();
  const int lane = threadIdx.x & 31;
  int64_t row = int64_t(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  int64_t total = a.end[0];
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.nseg) total = a.end[i];
  if (row >= total) return;
  // Find the segment with constant indices only (a run-time index would copy the arguments to local memory).
  const void* W = a.W[0];
  float* y = a.y[0];
  const float* bias = a.bias[0];
  float* resid = a.resid[0];
  int64_t base = 0, rows_s = a.end[0];
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.nseg && row >= a.end[i - 1]) {
      W = a.W[i];
      y = a.y[i];
      bias = a.bias[i];
      resid = a.resid[i];
      base = a.end[i - 1];
      rows_s = a.end[i] - a.end[i - 1];
    }
  row -= base;
  const int64_t in = a.in;
  const int n = a.n;
  const T* wr = static_cast<const T*>(W) + row * in;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;
  if constexpr (VEC) {
    // kUnroll loads issued before any is used; the last batch is predicated
    // rather than a one-load-at-a-time tail, so it is one round trip too.
    constexpr int U = kUnroll<NT>;
    for (int64_t k = int64_t(lane) * 8; k < in; k += U * 256) {
      W8 w[U];
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (k + u * 256 < in) ld8(wr + k + u * 256, w[u]);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (k + u * 256 < in) {
          float f[8];
          cvt8(w[u], wr, f);
          fma8<T, NT>(f, x, in, k + u * 256, n, acc);
        }
      }
    }
  } else {
    for (int64_t k = lane; k < in; k += 32) {
      const float w = to_f32(wr[k]);
#pragma unroll
      for (int t = 0; t < NT; ++t)
        if (t < n) acc[t] += w * x[t * in + k];
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t < n) {
      float v = warp_sum(acc[t]);
      if (lane == 0) {
        const int64_t i = int64_t(t) * rows_s + row;
        if (bias) v += bias[row];
        y[i] = v;
        if (resid) resid[i] += v;
      }
    }
  }
}


// ---- Tensor-core decode GEMM ------------------------------------------------
// y[t, row] = x[t, :] . W[row, :] for 2..64 tokens with mma.sync m16n8k16
// (16 weight rows x 8 tokens x 16 k per instruction, FP32 accumulate). A warp
// owns one 16-row tile and a share of k; each lane streams 16 bytes of two
// weight rows per 32-wide k chunk (evict-first, every weight read once for all
// tokens). The dot product does not depend on the order of k, so a lane's 8
// consecutive weights feed two mma k-slices directly (physical k 8t..8t+3 as
// the fragment's k {2t, 2t+1, 2t+8, 2t+9} of the first, 8t+4..8t+7 of the
// second), and the activations (xh, FP16/BF16, [n_pad, in], rows >= n zero)
// are read with the same mapping: no shuffles, no shared-memory staging. The
// k-splits of a tile are summed in shared memory in a fixed order (deterministic).
template <class T>
__device__ __forceinline__ void mma16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// xh[r, k] = x[r, k] rounded (rows >= n: 0); with split, xh[n_pad + r, k] = the rounding's remainder, rounded.
template <class T>
__global__ void tc_convert_kernel(const float* __restrict__ x, T* __restrict__ xh, int n, int n_pad, int64_t in, bool split) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(n_pad) * in) return;
  const int64_t r = i / in;
  const float v = r < n ? x[i] : 0.f;
  const T hi = from_f32<T>(v);
  xh[i] = hi;
  if (split) xh[int64_t(n_pad) * in + i] = from_f32<T>(v - to_f32(hi));
}

struct TcArgs {
  GemvArgs g;
  int64_t tile_end[kMaxSegments];  // cumulative 16-row tiles per segment
  int mb, kw;                      // m-tiles per block, k-splits per tile within a block (mb * kw == kTcWarps)
  int n_pad;
  int ks;                          // k-splits across blocks (gridDim.y); > 1: partial sums into part
  float* part;                     // [ks][n][total rows]
  int64_t total_rows;
};

template <class T, int NG, bool SPLIT>
__global__ void __launch_bounds__(kTcWarps * 32, 2) tc_gemm_kernel(TcArgs a, const T* __restrict__ xh) {
  pdl_enter();
  __shared__ float red[kTcWarps][NG * 4][32];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int mi = warp % a.mb, ki = warp / a.mb;
  const int g = lane >> 2, t = lane & 3;
  int64_t tile = int64_t(blockIdx.x) * a.mb + mi;
  int64_t total = a.tile_end[0];
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.g.nseg) total = a.tile_end[i];
  const bool active = tile < total;
  // Segment of this tile (constant indices only, as in gemv_kernel).
  const void* W = a.g.W[0];
  float* y = a.g.y[0];
  const float* bias = a.g.bias[0];
  float* resid = a.g.resid[0];
  int64_t tbase = 0, rows_s = a.g.end[0];
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.g.nseg && tile >= a.tile_end[i - 1]) {
      W = a.g.W[i];
      y = a.g.y[i];
      bias = a.g.bias[i];
      resid = a.g.resid[i];
      tbase = a.tile_end[i - 1];
      rows_s = a.g.end[i] - a.g.end[i - 1];
    }
  const int64_t row0 = (tile - tbase) * 16;
  const int64_t in = a.g.in;
  // Rows past the segment's end (its last tile) read a valid row; their results are dropped.
  const T* wa = static_cast<const T*>(W) + min(row0 + g, rows_s - 1) * in;
  const T* wb = static_cast<const T*>(W) + min(row0 + g + 8, rows_s - 1) * in;
  float acc[NG][4];
#pragma unroll
  for (int j = 0; j < NG; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  // This block's share of the 32-wide k chunks (split ks ways across blocks).
  const int64_t all_chunks = (in + 31) / 32, per = (all_chunks + a.ks - 1) / a.ks;
  const int64_t cbeg = int64_t(blockIdx.y) * per, chunks = min(all_chunks, cbeg + per);
  const uint4 z = make_uint4(0, 0, 0, 0);
  if (active) {
    for (int64_t c0 = cbeg + int64_t(ki) * kTcU; c0 < chunks; c0 += int64_t(a.kw) * kTcU) {
      uint4 ua[kTcU], ub[kTcU];
#pragma unroll
      for (int u = 0; u < kTcU; ++u) {
        const int64_t k = (c0 + u) * 32 + 8 * t;
        const bool ok = c0 + u < chunks && k < in;
        ua[u] = ok ? __ldcs(reinterpret_cast<const uint4*>(wa + k)) : z;
        ub[u] = ok ? __ldcs(reinterpret_cast<const uint4*>(wb + k)) : z;
      }
#pragma unroll
      for (int u = 0; u < kTcU; ++u) {
        const int64_t k = (c0 + u) * 32 + 8 * t;
        const bool ok = c0 + u < chunks && k < in;  // a chunk past the end adds zeros
#pragma unroll
        for (int j = 0; j < NG; ++j) {
          const T* xr = xh + int64_t(8 * j + g) * in + k;
          const uint4 b = ok ? __ldg(reinterpret_cast<const uint4*>(xr)) : z;
          mma16816<T>(acc[j], ua[u].x, ub[u].x, ua[u].y, ub[u].y, b.x, b.y);
          mma16816<T>(acc[j], ua[u].z, ub[u].z, ua[u].w, ub[u].w, b.z, b.w);
          if constexpr (SPLIT) {
            const uint4 bl = ok ? __ldg(reinterpret_cast<const uint4*>(xr + int64_t(a.n_pad) * in)) : z;
            mma16816<T>(acc[j], ua[u].x, ub[u].x, ua[u].y, ub[u].y, bl.x, bl.y);
            mma16816<T>(acc[j], ua[u].z, ub[u].z, ua[u].w, ub[u].w, bl.z, bl.w);
          }
        }
      }
    }
  }
  if (a.kw > 1) {  // k-splits of a tile: summed by the first, in split order
#pragma unroll
    for (int j = 0; j < NG; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) red[warp][j * 4 + e][lane] = acc[j][e];
    __syncthreads();
    if (ki == 0)
      for (int s = 1; s < a.kw; ++s)
#pragma unroll
        for (int j = 0; j < NG; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[j][e] += red[s * a.mb + mi][j * 4 + e][lane];
  }
  if (!active || ki != 0) return;
  const int n = a.g.n;
  if (a.ks > 1) {  // partial sums; tc_reduce_kernel adds the splits in order and applies the epilogue
    int64_t seg_row0 = 0;  // the segment's first row among all segments' rows
#pragma unroll
    for (int i = 1; i < kMaxSegments; ++i)
      if (i < a.g.nseg && tile >= a.tile_end[i - 1]) seg_row0 = a.g.end[i - 1];
#pragma unroll
    for (int j = 0; j < NG; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int tok = 8 * j + 2 * t + (e & 1);
        const int64_t row = row0 + g + (e >= 2 ? 8 : 0);
        if (tok < n && row < rows_s)
          a.part[(int64_t(blockIdx.y) * n + tok) * a.total_rows + seg_row0 + row] = acc[j][e];
      }
    return;
  }
#pragma unroll
  for (int j = 0; j < NG; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int tok = 8 * j + 2 * t + (e & 1);
      const int64_t row = row0 + g + (e >= 2 ? 8 : 0);
      if (tok < n && row < rows_s) {
        float v = acc[j][e];
        if (bias) v += bias[row];
        const int64_t i = int64_t(tok) * rows_s + row;
        y[i] = v;
        if (resid) resid[i] += v;
      }
    }
}

// Sums the ks partial results of each (token, row) in split order, then y = sum + bias; resid += y.
__global__ void tc_reduce_kernel(TcArgs a) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int n = a.g.n;
  if (i >= int64_t(n) * a.total_rows) return;
  const int64_t tok = i / a.total_rows, r = i % a.total_rows;
  float v = 0.f;
  for (int s = 0; s < a.ks; ++s) v += a.part[(int64_t(s) * n + tok) * a.total_rows + r];
  float* y = a.g.y[0];
  const float* bias = a.g.bias[0];
  float* resid = a.g.resid[0];
  int64_t base = 0, rows_s = a.g.end[0];
#pragma unroll
  for (int k = 1; k < kMaxSegments; ++k)
    if (k < a.g.nseg && r >= a.g.end[k - 1]) {
      y = a.g.y[k];
      bias = a.g.bias[k];
      resid = a.g.resid[k];
      base = a.g.end[k - 1];
      rows_s = a.g.end[k] - a.g.end[k - 1];
    }
  const int64_t row = r - base;
  if (bias) v += bias[row];
  const int64_t o = tok * rows_s + row;
  y[o] = v;
  if (resid) resid[o] += v;
}

// How few-tile GEMMs (q/k/v, o, down) get enough warps: "grid" (default) splits k across blocks of 8
// tiles (activations read once per 128 rows, partial sums + a reduce pass), "block" splits it among the
// 8 warps of a one-tile block (no partials, activations read once per 16 rows). QBENCH_CUDA_TC_SPLIT.
bool tc_split_grid() {
  static const bool g = !env_equals("QBENCH_CUDA_TC_SPLIT", "block");
  return g;
}
// Choose split-k and warps per tile so the last round of blocks is full (run_tc); measured on the H100
// (bench_cuda_batch_decode): batch 8 7.95 -> 7.28 ms per 7B step. QBENCH_CUDA_TC_BALANCE=0: the fixed rule.
bool tc_balance() {
  static const bool b = !env_equals("QBENCH_CUDA_TC_BALANCE", "0");
  return b;
}
// cuBLAS GEMMs go into the step's CUDA graph like every other launch (the handle has its workspace set,
// so a captured GEMM allocates nothing). Measured on the H100 (bench_cuda_batch_decode, 7B, batch 64):
// 10.75 ms per step launched directly, 9.66 ms in the graph. QBENCH_CUDA_CUBLAS_GRAPH=0: direct launches.
bool cublas_in_graphs() {
  static const bool b = !env_equals("QBENCH_CUDA_CUBLAS_GRAPH", "0");
  return b;
}
// Upper bound of ks * total rows * tokens for the partial sums (see run_tc): one fixed scratch size.
size_t tc_partial_bytes(int64_t sms) { return size_t(2 * sms * 2 * 16 * kTcWarps) * kTcMaxTokens * sizeof(float); }

// Runs the tensor-core GEMM of a (merged) launch: convert x, then the tiles.
template <class T>
void run_tc(const GemvArgs& ga, const float* x, T* xh, float* part, cudaStream_t s) {
  const int n = ga.n, ng = n <= 8 ? 1 : n <= 16 ? 2 : n <= 32 ? 4 : 8, n_pad = 8 * ng;
  const bool split = n <= kTcSplitTokens;
  const int64_t cnt = int64_t(n_pad) * ga.in;
  launch_pdl(tc_convert_kernel<T>, unsigned((cnt + 255) / 256), 256, 0, s, x, xh, n, n_pad, ga.in, split);
  QB_CUDA_LAUNCH("tensor-core GEMM activations");
  TcArgs a{};
  a.g = ga;
  a.n_pad = n_pad;
  int64_t tiles = 0;
  for (int i = 0; i < ga.nseg; ++i) {
    tiles += (ga.end[i] - (i ? ga.end[i - 1] : 0) + 15) / 16;
    a.tile_end[i] = tiles;
  }
  // Enough warps to keep every SM's four schedulers streaming (two 8-warp blocks per SM):
  // few tiles (q/k/v, o, down) split k, across blocks or among a block's warps (tc_split_grid).
  const int64_t want = int64_t(sm_count()) * 2 * kTcWarps;
  const int64_t chunks = (ga.in + 31) / 32;
  a.total_rows = ga.end[ga.nseg - 1];
  a.part = part;
  a.ks = 1;
  a.kw = 1;
  void (*kern)(TcArgs, const T*) = ng == 1   ? tc_gemm_kernel<T, 1, true>
                                   : ng == 2 ? tc_gemm_kernel<T, 2, true>
                                   : ng == 4 ? tc_gemm_kernel<T, 4, false>
                                             : tc_gemm_kernel<T, 8, false>;
  const size_t part_cap = tc_partial_bytes(sm_count());
  auto fits = [&](int64_t ks) { return size_t(ks) * size_t(a.total_rows) * size_t(n) * sizeof(float) <= part_cap; };
  if (tc_balance()) {
    // Blocks resident at once (slots); a grid of B blocks takes ceil(B / slots) rounds: pick the shape whose
    // last round is fullest. Few tiles: k split across blocks; many: among 1, 2 or 4 warps of a block.
    static int occ[4] = {0, 0, 0, 0};
    int& o = occ[ng == 1 ? 0 : ng == 2 ? 1 : ng == 4 ? 2 : 3];
    if (!o) QB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&o, kern, kTcWarps * 32, 0));
    const double slots = double(std::max(1, o) * sm_count());
    auto eff = [&](int64_t blocks) { return double(blocks) / (std::ceil(double(blocks) / slots) * slots); };
    const int64_t tb = (tiles + kTcWarps - 1) / kTcWarps;
    double best = eff(tb);
    for (int64_t ks = 2; ks <= 16 && ks * 2 * kTcU <= chunks && fits(ks); ++ks)
      if (eff(tb * ks) > best + 0.02) { best = eff(tb * ks); a.ks = int(ks); }
    for (int kw = 2; kw <= 4; kw *= 2)
      if (eff((tiles + kTcWarps / kw - 1) / (kTcWarps / kw)) > best + 0.02) {
        best = eff((tiles + kTcWarps / kw - 1) / (kTcWarps / kw));
        a.kw = kw;
        a.ks = 1;
      }
  } else if (tiles < want && tc_split_grid()) {
    const int64_t tb = (tiles + kTcWarps - 1) / kTcWarps;
    int64_t ks = std::min<int64_t>((want / kTcWarps + tb - 1) / tb, std::max<int64_t>(1, chunks / (2 * kTcU)));
    // The partial buffer holds ks * rows * tokens floats up to tc_partial_bytes.
    while (ks > 1 && !fits(ks)) --ks;
    a.ks = int(ks);
  } else {
    while (a.kw < kTcWarps && tiles * a.kw < want) a.kw *= 2;
  }
  a.mb = kTcWarps / a.kw;
  const dim3 grid(unsigned((tiles + a.mb - 1) / a.mb), unsigned(a.ks));
  launch_pdl(kern, grid, dim3(kTcWarps * 32), 0, s, a, xh);
  QB_CUDA_LAUNCH("tensor-core GEMM");
  if (a.ks > 1) {
    const int64_t cnt2 = int64_t(n) * a.total_rows;
    launch_pdl(tc_reduce_kernel, unsigned((cnt2 + 255) / 256), 256, 0, s, a);
    QB_CUDA_LAUNCH("tensor-core GEMM split-k reduce");
  }
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ W, const int32_t* __restrict__ ids, float* __restrict__ out, int64_t in,
                              int64_t n) {
  pdl_enter();
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * in) return;
  const int64_t r = t / in, c = t % in;
  out[t] = to_f32(W[int64_t(ids[r]) * in + c]);
}

template <class T>
struct Types;
template <>
struct Types<__half> {
  static constexpr cudaDataType_t cuda = CUDA_R_16F;
  static constexpr const char* kind = "f16";
};
template <>
struct Types<__nv_bfloat16> {
  static constexpr cudaDataType_t cuda = CUDA_R_16BF;
  static constexpr const char* kind = "bf16";
};
template <>
struct Types<float> {
  static constexpr cudaDataType_t cuda = CUDA_R_32F;
  static constexpr const char* kind = "f32";
};

// ---- cuBLAS launches (more than kTcAutoTokens tokens) ----------------------
// Up to kMergeMaxTokens tokens the cuBLAS launch of a group's matrix (q, k and v, stored one after another in
// one allocation: make_dense_linears_cuda) is a GemvArgs launch like the GEMV's: the group joins one GEMM over
// all its rows, and the bias adds fold in. cuBLAS cannot write three outputs, so a launch with more than one segment or a bias
// writes the GEMM to scratch (ym) and an epilogue pass (tc_reduce_kernel with one split) adds the biases and
// writes each segment's y. On the H100 at 64 tokens (bench_cuda_gemm_algos, weights from DRAM) q, k and v
// took 13.8 + 16.2 + 16.2 us as three GEMMs and 15.8 us as one. Beyond kMergeMaxTokens (prefill) the GEMMs
// are compute-bound and the epilogue pass would cost what merging saves: plain launches.
constexpr int64_t kMergeMaxTokens = 128;

template <class T>
void run_cublas(const GemvArgs& a, const T* xh, cudaStream_t s) {
  const int64_t total = a.end[a.nseg - 1];
  const bool direct = a.nseg == 1 && !a.bias[0] && !a.resid[0];
  run_gemm_xwt(a.W[0], xh, Types<T>::cuda, direct ? a.y[0] : a.ym, total, a.n, a.in, total);
  if (direct || a.epilogue_taken) return;  // taken: the RoPE launch after it adds the biases and writes q/k/v
  TcArgs t{};
  t.g = a;
  t.ks = 1;
  t.part = a.ym;
  t.total_rows = total;
  launch_pdl(tc_reduce_kernel, unsigned((int64_t(a.n) * total + 255) / 256), 256, 0, s, t);
  QB_CUDA_LAUNCH("cuBLAS GEMM epilogue");
}

// Device weights several Linears share (q/k/v of a layer, in that order), freed with the last of them.
struct DeviceBlock {
  void* p = nullptr;
  uint64_t bytes = 0;
  bool holds(const void* q) const {
    const auto* b = static_cast<const uint8_t*>(p);
    return q >= b && q < b + bytes;
  }
  ~DeviceBlock() { device_free(p); }
};

template <class T>
class DenseLinearCuda final : public Linear {
  // The weight type in every graph key and merge tag: FP16 and BF16 have one size, so without it a BF16 Linear
  // could join an FP16 one's launch, or later sit at its addresses with the same shape and replay its graph.
  static constexpr uint64_t kType = std::is_same_v<T, float> ? 1 : std::is_same_v<T, __half> ? 2 : 3;

 public:
  // Weights at `offset` bytes into `block` (allocated by the caller, at least offset + in * out * sizeof(T)).
  DenseLinearCuda(const void* host, int64_t in, int64_t out, std::shared_ptr<DeviceBlock> block, size_t offset)
      : Linear(in, out), block_(std::move(block)) {
    if (in <= 0 || out <= 0) throw Error("dense CUDA Linear needs a positive shape");
    bytes_ = uint64_t(in) * uint64_t(out) * sizeof(T);
    w_ = reinterpret_cast<T*>(static_cast<uint8_t*>(block_->p) + offset);
    upload_sync(w_, host, bytes_, "dense weight upload");
  }

  void forward(const float* x, float* y, int64_t n) const override {
    if (n <= 0) return;
    const DensePath p = path(n);
    if (p != DensePath::Cublas) {
      gemv(x, y, n, p == DensePath::TensorCore);
      return;
    }
    // cuBLAS is column-major: Y^T[out, n] = W[out, in] · X^T[in, n], i.e. op(A) = T on W stored [in, out] column-major.
    const void* xb = x;
    constexpr HalfType ht = std::is_same_v<T, __half> ? HalfType::F16 : HalfType::BF16;
    if constexpr (!std::is_same_v<T, float>) {
      T* xh = static_cast<T*>(scratch(Scratch::HalfActivations, size_t(n * in_) * sizeof(T)));
      ensure_half_copy(0x300, x, xh, n * in_, ht);  // shared with q/k/v's or gate/up's other GEMMs
      xb = xh;
    }
    // Captured into the step's graph with the rest (cublas_in_graphs).
    // q/k/v (a group) up to kMergeMaxTokens: one launch the others and the biases can join; else plain.
    if (n <= kMergeMaxTokens && block_->bytes > bytes_) cublas_launch(x, static_cast<const T*>(xb), y, n);
    else enqueue_gemm_xwt(0x301, w_, xb, Types<T>::cuda, y, out_, n, in_, out_, cublas_in_graphs());
    if constexpr (!std::is_same_v<T, float>) note_half_copy(x, xb, n * in_, ht);
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    if (n <= 0) return;
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
    // Token ids are staged (read on the device): a decode step's launch is the same whatever the token.
    gather_rows_device(static_cast<const int32_t*>(stage(ids, size_t(n) * sizeof(int32_t))), n, out);
  }
  void gather_rows_device(const int32_t* d, int64_t n, float* out) const override {
    if (n <= 0) return;
    const T* w = w_;
    const int64_t in = in_;
    enqueue({key(0x302, w, d, out, in, n, kType), true, [=](cudaStream_t s) {
               launch_pdl(gather_kernel<T>, unsigned((n * in + 255) / 256), 256, 0, s, w, d, out, in, n);
               QB_CUDA_LAUNCH("gather_rows");
             }});
  }

  uint64_t weight_bytes() const override { return bytes_; }
  std::string kind() const override { return Types<T>::kind; }

 private:
  // The kernel for n tokens: a forced path where it can run this shape, else the measured choice.
  DensePath path(int64_t n) const {
    constexpr bool tc_type = !std::is_same_v<T, float>;
    const bool tc_ok = tc_type && in_ % 8 == 0 && n >= 2 && n <= kTcMaxTokens;
    switch (g_forced) {
      case DensePath::Gemv: if (n <= kMaxGemvTokens) return DensePath::Gemv; break;
      case DensePath::TensorCore: if (tc_ok) return DensePath::TensorCore; break;
      case DensePath::Cublas: return DensePath::Cublas;
      case DensePath::Auto: break;
    }
    const DensePath a = auto_dense_path(n);
    // F32 weights (no tensor-core kernel): the GEMV up to kMaxGemvTokens; in % 8 != 0: the GEMV where the
    // tensor-core kernel would run.
    if (!tc_type && n <= kMaxGemvTokens) return DensePath::Gemv;
    if (a == DensePath::TensorCore && !tc_ok) return n <= kMaxGemvTokens ? DensePath::Gemv : DensePath::Cublas;
    return a;
  }

  // Queues y = x·Wᵀ (GEMV, or the tensor-core kernel with tc). When the last queued launch is one of the
  // same kind over the same x and n (nothing ran in between), this matrix joins it as one more
  // segment: q/k/v and gate/up become one launch each, with no change to the transformer.
  void gemv(const float* x, float* y, int64_t n, bool tc) const {
    const bool vec = in_ % 8 == 0;
    const uint64_t tag = 0x400 + (vec ? 1 : 0) + 2 * sizeof(T) + (tc ? 0x100 : 0) + (kType << 12);  // key, merges
    Launch* last = last_launch();
    if (last && last->merge_tag == &kGemvTag && merge_with(*last, tag, x, y, n)) return;

    auto args = one_segment(y, n);
    Launch l;
    l.merge_tag = &kGemvTag;
    l.merge_state = {tag, kw(x), uint64_t(n), uint64_t(in_), kw(args.get())};
    if constexpr (!std::is_same_v<T, float>) {
      if (tc) {
        // Activation copy (hi, and lo up to kTcSplitTokens tokens) in the shared FP16 scratch: the launches
        // that use it run in stream order, and growing it runs everything queued before.
        const int64_t n_pad = n <= 8 ? 8 : n <= 16 ? 16 : n <= 32 ? 32 : 64;
        T* xh = static_cast<T*>(scratch(Scratch::HalfActivations,
                                        size_t(n_pad * in_ * (n <= kTcSplitTokens ? 2 : 1)) * sizeof(T)));
        // Split-k partial sums: a fixed-size slot (the bound does not depend on later merges); attention's
        // partials share it, in stream order.
        float* part = static_cast<float*>(scratch(Scratch::AttentionPartials, tc_partial_bytes(sm_count())));
        l.key = key(tag, x, n, in_, w_, y, out_, xh, part);
        l.run = [args, x, xh, part](cudaStream_t s) { run_tc<T>(*args, x, xh, part, s); };
        enqueue(std::move(l));
        return;
      }
    }
    l.key = key(tag, x, n, in_, w_, y, out_);
    l.run = [args, x, vec](cudaStream_t s) {
      const GemvArgs& a = *args;
      const unsigned blocks = unsigned((a.end[a.nseg - 1] + kGemvWarps - 1) / kGemvWarps);
      void (*k)(GemvArgs, const float*) = a.n == 1 ? (vec ? gemv_kernel<T, 1, true> : gemv_kernel<T, 1, false>)
                                                   : (vec ? gemv_kernel<T, kMaxGemvTokens, true>
                                                          : gemv_kernel<T, kMaxGemvTokens, false>);
      launch_pdl(k, blocks, kGemvWarps * 32, 0, s, a, x);
      QB_CUDA_LAUNCH("gemv");
    };
    enqueue(std::move(l));
  }

  // A launch's arguments for this matrix alone (zeroed: no bias, no residual).
  std::shared_ptr<GemvArgs> one_segment(float* y, int64_t n) const {
    auto a = std::make_shared<GemvArgs>();
    a->W[0] = w_;
    a->y[0] = y;
    a->end[0] = out_;
    a->nseg = 1;
    a->in = in_;
    a->n = int(n);
    return a;
  }
  // Queues y = x·Wᵀ through cuBLAS as a launch later Linears and bias adds can join (see run_cublas).
  void cublas_launch(const float* x, const T* xh, float* y, int64_t n) const {
    const uint64_t tag = 0x800 + sizeof(T) + (kType << 12);
    if (merge_cublas(tag, x, y, n)) return;
    auto args = one_segment(y, n);
    args->ym = static_cast<float*>(scratch(Scratch::GemmEpilogue, size_t(n * out_) * sizeof(float)));
    Launch l;
    l.capturable = cublas_in_graphs();
    l.merge_tag = &kGemvTag;
    l.merge_state = {tag, kw(x), uint64_t(n), uint64_t(in_), kw(args.get())};
    l.key = key(0x302, x, xh, n, in_, w_, y, out_, args->ym, kType);
    l.run = [args, xh](cudaStream_t s) { run_cublas<T>(*args, xh, s); };
    enqueue(std::move(l));
  }

  // Adds this matrix to the queued cuBLAS launch over the same x when its weights are the rows right after
  // that launch's last matrix (one allocation: q, k, v) and no epilogue has been folded in yet.
  bool merge_cublas(uint64_t tag, const float* x, float* y, int64_t n) const {
    Launch* last = last_launch();
    if (!gemm_merge_enabled() || !last || last->merge_tag != &kGemvTag) return false;
    const auto& st = last->merge_state;
    if (st.size() != 5 || st[0] != tag || st[1] != kw(x) || st[2] != uint64_t(n) || st[3] != uint64_t(in_)) return false;
    auto* a = reinterpret_cast<GemvArgs*>(uintptr_t(st[4]));
    if (!can_join(*a, x, in_, y, out_)) return false;
    for (int s = 0; s < a->nseg; ++s)
      if (a->bias[s]) return false;  // folded already: the epilogue's arguments are complete
    // Only within a group: matrices cudaMalloc placed back to back by chance (gate, up) would join too, but
    // their epilogue pass over the wide output costs more than the launch it saves.
    const int last_seg = a->nseg - 1;
    if (!block_->holds(a->W[last_seg]) || static_cast<const T*>(a->W[last_seg]) + seg_rows(*a, last_seg) * in_ != w_)
      return false;
    // Growing the scratch runs the queue (this launch included): then there is nothing to join.
    float* ym = static_cast<float*>(scratch(Scratch::GemmEpilogue, size_t(n * (a->end[last_seg] + out_)) * sizeof(float)));
    if (last_launch() != last) return false;
    add_segment(*a, w_, y, out_);
    a->ym = ym;
    last->key.insert(last->key.end(), {kw(w_), kw(y), uint64_t(out_), kw(ym)});
    return true;
  }

  // Adds this matrix to a queued GEMV launch when that is safe; false otherwise.
  bool merge_with(Launch& l, uint64_t tag, const float* x, float* y, int64_t n) const {
    const auto& st = l.merge_state;
    if (st.size() != 5 || st[0] != tag || st[1] != kw(x) || st[2] != uint64_t(n) || st[3] != uint64_t(in_)) return false;
    auto* a = reinterpret_cast<GemvArgs*>(uintptr_t(st[4]));
    if (!can_join(*a, x, in_, y, out_)) return false;
    add_segment(*a, w_, y, out_);
    l.key.insert(l.key.end(), {kw(w_), kw(y), uint64_t(out_)});
    return true;
  }
  std::shared_ptr<DeviceBlock> block_;
  T* w_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace

GemvArgs* gemv_of(Launch* l, int64_t* n, int64_t* in, const float** x) {
  if (!l || l->merge_tag != &kGemvTag || l->merge_state.size() != 5) return nullptr;
  if (x) *x = reinterpret_cast<const float*>(uintptr_t(l->merge_state[1]));
  if (n) *n = int64_t(l->merge_state[2]);
  if (in) *in = int64_t(l->merge_state[3]);
  return reinterpret_cast<GemvArgs*>(uintptr_t(l->merge_state[4]));
}

namespace {
// The last queued launch's GEMV arguments, or nullptr when it is no GEMV.
GemvArgs* last_gemv(Launch** l, int64_t* n, int64_t* in, const float** x) {
  *l = last_launch();
  return gemv_of(*l, n, in, x);
}
// Whether GEMV launch a (input x [n, in]) reads or writes any byte of [p, p + bytes).
bool gemv_touches(const GemvArgs& a, const float* x, int64_t n, int64_t in, const void* p, size_t bytes) {
  if (a.ym || ranges_overlap(p, bytes, x, size_t(n * in) * sizeof(float))) return true;  // cuBLAS: scratch too
  for (int t = 0; t < a.nseg; ++t) {
    const size_t rb = size_t(seg_rows(a, t)) * sizeof(float);
    if (ranges_overlap(p, bytes, a.y[t], size_t(n) * rb) || (a.bias[t] && ranges_overlap(p, bytes, a.bias[t], rb)) ||
        (a.resid[t] && ranges_overlap(p, bytes, a.resid[t], size_t(n) * rb)))
      return true;
  }
  return false;
}
// GEMV launches a bias add may look back over to the one that wrote its output (1: only the last; set by
// QBENCH_CUDA_BIAS_LOOKBACK=0 at start-up, for A/B runs).
size_t bias_look_back() {
  static const size_t n = env_equals("QBENCH_CUDA_BIAS_LOOKBACK", "0") ? 1 : 2;
  return n;
}
}  // namespace

// The GEMV launch that wrote y may lie behind other GEMV launches, none of which reads or writes y or b: adding
// the bias in its epilogue then gives the same values as adding it after them. (Q4_K_M layers whose v is
// Q6_K queue q/k and v as two launches: q's and k's bias adds fold into the first, 14 launches per 7B step.)
bool gemv_fold_bias(float* y, const float* b, int64_t rows, int64_t dim) {
  const size_t yb = size_t(rows * dim) * sizeof(float), bb = size_t(dim) * sizeof(float);
  const size_t queued = queued_count();
  for (size_t back = 0; back < bias_look_back() && back < queued; ++back) {
    Launch* l = queued_launch(queued - 1 - back);
    int64_t n, in;
    const float* x;
    GemvArgs* a = gemv_of(l, &n, &in, &x);
    if (!a) return false;
    for (int s = 0; n == rows && s < a->nseg; ++s) {
      if (a->y[s] != y || seg_rows(*a, s) != dim) continue;
      if (a->bias[s] || a->resid[s]) return false;  // order matters once a residual took y
      a->bias[s] = b;
      l->key.insert(l->key.end(), {0xB1A5, uint64_t(s), kw(b)});
      return true;
    }
    if (!launch_folds_enabled() || gemv_touches(*a, x, n, in, y, yb) || gemv_touches(*a, x, n, in, b, bb)) return false;
  }
  return false;
}

bool gemv_fold_residual(float* y, const float* src, int64_t count) {
  Launch* l;
  int64_t n, in;
  const float* x;
  GemvArgs* a = last_gemv(&l, &n, &in, &x);
  if (!a || a->ym) return false;  // cuBLAS launches: the RMSNorm after the add takes it (ops_cuda.cu)
  for (int s = 0; s < a->nseg; ++s) {
    if (a->y[s] != src || n * seg_rows(*a, s) != count || a->resid[s]) continue;
    // y is written while other warps still read x, the outputs and the biases: it must be none of them.
    const size_t yb = size_t(count) * sizeof(float);
    if (ranges_overlap(y, yb, x, size_t(n * in) * sizeof(float))) return false;
    for (int t = 0; t < a->nseg; ++t) {
      const size_t rb = size_t(seg_rows(*a, t)) * sizeof(float);
      if (ranges_overlap(y, yb, a->y[t], size_t(n) * rb) || (a->bias[t] && ranges_overlap(y, yb, a->bias[t], rb)) ||
          (a->resid[t] && ranges_overlap(y, yb, a->resid[t], size_t(n) * rb)))
        return false;
    }
    a->resid[s] = y;
    l->key.insert(l->key.end(), {0x4E51D, uint64_t(s), kw(y)});
    return true;
  }
  return false;
}

void force_dense_path(DensePath p) {
  flush();  // queued launches keep the path they were queued with
  g_forced = p;
}
DensePath forced_dense_path() { return g_forced; }

// Measured on the H100 (bench_cuda_batch_decode, docs/cuda.md): one token is the GEMV's
// (FP32 activations, 83% of the read roofline); 2..7 tokens the tensor-core kernel's (kTcAutoTokens; the
// 8-token GEMV took 21 ms per 7B step); more, cuBLAS's (batch 64: 10.6 ms vs 14.2 on the tensor-core kernel).
// QBENCH_CUDA_TC_TOKENS=LO,HI moves the tensor-core range (for measurements; LO >= 2, HI <= 64; HI < LO: none).
DensePath auto_dense_path(int64_t n) {
  static const std::pair<int64_t, int64_t> range = [] {
    std::pair<int64_t, int64_t> r{2, kTcAutoTokens};
    if (const char* e = std::getenv("QBENCH_CUDA_TC_TOKENS")) {
      long lo = 0, hi = 0;
      if (std::sscanf(e, "%ld,%ld", &lo, &hi) == 2)
        r = {std::max<int64_t>(2, lo), std::min<int64_t>(kTcMaxTokens, hi)};
    }
    return r;
  }();
  // QBENCH_CUDA_GEMV_TOKENS=N: outside that range the GEMV takes up to N tokens (1..8; default 1, since
  // the many-token GEMV is the slowest path: 21 ms per 7B step at 8 tokens), cuBLAS the rest.
  static const int64_t gemv_max = env_int("QBENCH_CUDA_GEMV_TOKENS", 1, 1, kMaxGemvTokens);
  if (n >= range.first && n <= range.second) return DensePath::TensorCore;
  return n <= gemv_max ? DensePath::Gemv : DensePath::Cublas;
}

}  // namespace cuda

namespace {
template <class T>
std::vector<std::unique_ptr<Linear>> make_group(const std::vector<const void*>& hosts, int64_t in,
                                                const std::vector<int64_t>& outs) {
  if (in <= 0) throw Error("dense CUDA Linear needs a positive shape");
  uint64_t total = 0;
  std::string shape;
  for (int64_t o : outs) {
    if (o <= 0) throw Error("dense CUDA Linear needs a positive shape");
    total += uint64_t(o) * uint64_t(in) * sizeof(T);
    shape += (shape.empty() ? "" : " + ") + std::to_string(o);
  }
  auto block = std::make_shared<cuda::DeviceBlock>();
  block->p = cuda::device_alloc(total, "weights [" + shape + " x " + std::to_string(in) + "]");
  block->bytes = total;
  std::vector<std::unique_ptr<Linear>> out;
  size_t off = 0;
  for (size_t i = 0; i < outs.size(); ++i) {
    out.push_back(std::make_unique<cuda::DenseLinearCuda<T>>(hosts[i], in, outs[i], block, off));
    off += size_t(outs[i]) * size_t(in) * sizeof(T);
  }
  return out;
}
}  // namespace

std::vector<std::unique_ptr<Linear>> make_dense_linears_cuda(DType dtype, const std::vector<const void*>& hosts,
                                                             int64_t in, const std::vector<int64_t>& outs) {
  if (hosts.size() != outs.size() || hosts.empty()) throw Error("dense CUDA Linear group: one shape per matrix");
  switch (dtype) {
    case DType::F16: return make_group<__half>(hosts, in, outs);
    case DType::BF16: return make_group<__nv_bfloat16>(hosts, in, outs);
    case DType::F32: return make_group<float>(hosts, in, outs);
    default: throw Error(std::string("dense CUDA Linear does not support dtype ") + dtype_name(dtype));
  }
}

std::unique_ptr<Linear> make_dense_linear_cuda(DType dtype, const void* host, int64_t in, int64_t out) {
  return std::move(make_dense_linears_cuda(dtype, {host}, in, {out})[0]);
}

}  // namespace qbench
