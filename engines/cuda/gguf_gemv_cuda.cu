// Decode GEMV over GGUF blocks (n <= 8 tokens): weights dequantised in
// registers to int8 codes, dp4a products against the activations quantised per
// 16 values to int8 (quantize_runs_kernel, once per input), FP32 accumulation;
// each weight byte is read once (16-byte evict-first loads) for all n tokens.
//
// A row group (kGgufRowsPerWarp rows) is owned by 1, 2 or 4 warps of a 128-thread
// block, which split the rows' units (32 weights a lane) and meet in shared
// memory in a fixed order (split_for: how many, by type and size).
// Segments (q/k/v, gate/up of one type) share one launch; the epilogue adds the
// bias and the residual that gemv_fusion.h folded in.
#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/gguf_blocks_cuda.cuh"
#include "engines/cuda/gguf_kernels_cuda.h"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

using namespace gguf;
constexpr int kWarps = 4;  // 128-thread blocks
constexpr int R = kGgufRowsPerWarp;

__global__ void __launch_bounds__(256) quantize_runs_kernel(const float* __restrict__ x, int64_t runs, int8_t* __restrict__ xq,
                                                              int2* __restrict__ xs) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * 256 + threadIdx.x;
  if (i >= runs) return;
  const XRun r = quant16(x + 16 * i);
  *reinterpret_cast<uint4*>(xq + 16 * i) = make_uint4(uint32_t(r.q[0]), uint32_t(r.q[1]), uint32_t(r.q[2]), uint32_t(r.q[3]));
  xs[i] = make_int2(__float_as_int(r.d), r.sum);
}

struct Seg {
  Arrays A;
  float* y;
  const float* bias;
  float* resid;
  int64_t gbase, rows;
};

// Segment of row group gb, chosen with constant indices only (a run-time index would copy the arguments to local memory).
__device__ __forceinline__ Seg segment_of(const GgufGemvArgs& a, int64_t gb) {
  Seg s{Arrays{static_cast<const uint8_t*>(a.g.W[0]), a.a1[0], a.a2[0]}, a.g.y[0], a.g.bias[0], a.g.resid[0], 0, a.g.end[0]};
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.g.nseg && gb >= a.gend[i - 1])
      s = Seg{Arrays{static_cast<const uint8_t*>(a.g.W[i]), a.a1[i], a.a2[i]}, a.g.y[i], a.g.bias[i], a.g.resid[i],
              a.gend[i - 1], a.g.end[i] - a.g.end[i - 1]};
  return s;
}

// A row group is R rows; 2^lg warps share one group (each takes every 2^lg-th run of 32 units), so a block of
// kWarps warps holds kWarps >> lg groups. Splitting keeps enough warps in flight for short or long-rowed
// matrices; without it a warp's prologue and epilogue are spread over more units.
template <GgmlType T, int NT>
__global__ void __launch_bounds__(kWarps * 32) gguf_gemv_kernel(GgufGemvArgs a, int lg, bool early) {
  __shared__ float red[kWarps][R][NT];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int ks = 1 << lg, gpb = kWarps >> lg;
  const int64_t total = a.gend[a.g.nseg - 1];
  const int64_t gb = int64_t(blockIdx.x) * gpb + (warp >> lg);
  const int part = warp & (ks - 1);
  const int64_t in = a.g.in;
  const int units = int(in / 32);
  const bool active = gb < total;
  const Seg sg = segment_of(a, active ? gb : 0);
  const int64_t row0 = (gb - sg.gbase) * R;
  const GgufRowStrides st = gguf_row_strides(T, in);
  int64_t row[R];
#pragma unroll
  for (int r = 0; r < R; ++r) row[r] = row0 + r < sg.rows ? row0 + r : sg.rows - 1;  // past the end: recompute the last row
  // The first units' weights are requested before the wait for the kernel before this one (pdl.cuh:
  // weights only), so their latency overlaps its tail.
  const int u_first = part * 32 + lane;
  Unit w[R];
  auto load = [&](int u) {
#pragma unroll
    for (int r = 0; r < R; ++r) load_unit<T>(sg.A, st, row[r], u, w[r]);
  };
  if (early && active && u_first < units) load(u_first);
  // Epilogue operands no kernel of the step writes before this one (the bias) or that were written before it was
  // launched (the residual, by the GEMV a layer or half-layer back: pdl.cuh), requested now through L2 rather
  // than after the reduction: thread i's output below.
  const int i = threadIdx.x;
  float pre_bias = 0.f, pre_res = 0.f;
  if (a.early_epilogue && i < gpb * R * NT) {
    const int g = i / (R * NT), r = (i / NT) % R, t = i % NT;
    const int64_t gg = int64_t(blockIdx.x) * gpb + g;
    if (gg < total && t < a.g.n) {
      const Seg se = segment_of(a, gg);
      const int64_t o = (gg - se.gbase) * R + r;
      if (o < se.rows) {
        if (se.bias) pre_bias = __ldcg(se.bias + o);
        if (se.resid) pre_res = __ldcg(se.resid + int64_t(t) * se.rows + o);
      }
    }
  }
  pdl_enter();
  if (!early && active && u_first < units) load(u_first);
  const int n = a.g.n;
  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.f;
  if (active) {
    for (int u = u_first; u < units; u += ks * 32) {
      if (u != u_first) load(u);
      int xa, xb;
      unit_pos<T>(u, xa, xb);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        if (t < n) {
          const XRun qa = load_xrun(a.xq, a.xs, t * in + xa), qb = load_xrun(a.xq, a.xs, t * in + xb);
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r][t] += unit_dot<T>(w[r], qa, qb);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = warp_sum(acc[r][t]);
      if (lane == 0) red[warp][r][t] = v;
    }
  __syncthreads();
  // Thread i finishes output (group i / (R NT), row, token): the group's warps summed in a fixed order.
  if (i < gpb * R * NT) {
    const int g = i / (R * NT), r = (i / NT) % R, t = i % NT;
    const int64_t gg = int64_t(blockIdx.x) * gpb + g;
    if (gg < total && t < n) {
      const Seg sg = segment_of(a, gg);
      const int64_t o = (gg - sg.gbase) * R + r;
      if (o < sg.rows) {
        float v = red[g * ks][r][t];
        for (int p = 1; p < ks; ++p) v += red[g * ks + p][r][t];
        const int64_t k = int64_t(t) * sg.rows + o;
        if (sg.bias) v += a.early_epilogue ? pre_bias : sg.bias[o];
        sg.y[k] = v;
        if (sg.resid) sg.resid[k] = (a.early_epilogue ? pre_res : sg.resid[k]) + v;
      }
    }
  }
}

// Tests force the split (set_gguf_gemv_split); QBENCH_GGUF_SPLIT=0|1|2 at start-up does the same for A/B runs.
int g_forced_split = int(env_int("QBENCH_GGUF_SPLIT", -1, -1, 2));

// log2 of the warps per row group. K-quants: the least split that still gives 16 warps per SM (fewer
// instructions per weight for their scale decoding). Q8_0: always 2 warps per group; the other 32-block types
// 4 (more loads in flight per row). H100, Qwen2.5-7B decode, one run each: with the size rule instead of 4 warps
// everywhere (and, for the K-quants, the regrouped scales in the same step) Q4_K_M went 269 -> 286 tok/s and Q5_K_S
// 243 -> 277, while Q8_0 went 255 -> 233: so not for Q8_0. Ninth session, Q8_0 step (bench_cuda_decode, two
// alternations): 2 warps 3.570 / 3.613 ms, 4 warps 3.727 / 3.727, 1 warp 3.804 / 3.731. The legacy types were
// not measured again.
int split_for(GgmlType t, bool kquant, int64_t groups) {
  if (g_forced_split >= 0) return g_forced_split;
  if (!kquant) return t == GgmlType::Q8_0 ? 1 : 2;
  const int sms = sm_count();
  int lg = 0;
  while (lg < 2 && groups * (int64_t(1) << lg) < int64_t(16) * sms) ++lg;
  return lg;
}

// QBENCH_GGUF_EARLY_EPILOGUE=0: bias and residual read after the reduction (A/B runs).
bool early_epilogue() {
  static const bool on = env_int("QBENCH_GGUF_EARLY_EPILOGUE", 1, 0, 1) != 0;
  return on;
}

template <GgmlType T>
void launch_t(GgufGemvArgs a, cudaStream_t s) {
  a.early_epilogue = early_epilogue();
  const int64_t groups = a.gend[a.g.nseg - 1];
  constexpr bool kq = T == GgmlType::Q4_K || T == GgmlType::Q5_K || T == GgmlType::Q6_K;
  const int lg = split_for(T, kq, groups), gpb = kWarps >> lg;
  const unsigned blocks = unsigned((groups + gpb - 1) / gpb);
  launch_pdl(a.g.n == 1 ? gguf_gemv_kernel<T, 1> : gguf_gemv_kernel<T, kGgufMaxGemvTokens>, blocks, kWarps * 32, 0, s, a, lg,
             early_weight_loads());
  QB_CUDA_LAUNCH("gguf gemv");
}

}  // namespace

void set_gguf_gemv_split(int log2_warps_per_group) { g_forced_split = log2_warps_per_group; }

void launch_gguf_quantize(const float* x, int64_t n, int64_t in, int8_t* xq, int2* xs, cudaStream_t s) {
  const int64_t runs = n * in / 16;
  launch_pdl(quantize_runs_kernel, unsigned((runs + 255) / 256), 256, 0, s, x, runs, xq, xs);
  QB_CUDA_LAUNCH("gguf activation quantisation");
}

void launch_gguf_gemv(quant::GgmlType t, const GgufGemvArgs& a, cudaStream_t s) {
  switch (t) {
    case GgmlType::Q8_0: return launch_t<GgmlType::Q8_0>(a, s);
    case GgmlType::Q4_0: return launch_t<GgmlType::Q4_0>(a, s);
    case GgmlType::Q4_1: return launch_t<GgmlType::Q4_1>(a, s);
    case GgmlType::Q5_0: return launch_t<GgmlType::Q5_0>(a, s);
    case GgmlType::Q5_1: return launch_t<GgmlType::Q5_1>(a, s);
    case GgmlType::Q4_K: return launch_t<GgmlType::Q4_K>(a, s);
    case GgmlType::Q5_K: return launch_t<GgmlType::Q5_K>(a, s);
    case GgmlType::Q6_K: return launch_t<GgmlType::Q6_K>(a, s);
    default: throw Error(std::string("GGUF type ") + quant::type_name(t) + " has no CUDA GEMV");
  }
}

}  // namespace qbench::cuda
