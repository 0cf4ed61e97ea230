// Decode GEMV over the int4 device layout (int4_kernels_cuda.h), n <= 8 tokens,
// on the tensor cores.
//
// Arithmetic: dequantising to FP32 and multiplying there cost ~4.4
// instructions per weight (the previous kernel, counted the same way). Here a lane turns 8 codes into
// four FP16 pairs q − z with 4 LOP3 + 4 half2 operations (exact: 1024 + q is an
// FP16 value), and one mma.sync m16n8k16 multiplies 8 rows × 16 inputs for all
// tokens: ~1.4 instructions per weight in the tile loop, ~2 with the per-unit
// loads and scales (both counted from the source, not profiled). The activations are the mma's A
// operand, 16 "token rows" holding FP16 hi and lo halves of each token (built
// once per input by launch_int4_xfrag), so the products keep ~22 bits of x;
// the tensor core sums in FP32 and the group's scale multiplies those sums in
// FP32. Rows that hold no token are zero registers, no loads.
//
// A warp owns one row block (8 rows) or a 1/2…1/8 share of its units (split-K,
// added up in shared memory), chosen so that the launch fills the GPU with one
// wave. A lane loads one unit's codes (16 bytes, evict-first) and scales at a
// time and asks L2 to prefetch the next unit's codes; what the H100 rewarded
// was resident warps (48 registers, 5 blocks per SM), not deeper per-warp
// pipelines: a per-warp cp.async ring with 5-7 units in flight (persistent
// blocks) and rolling register windows were slower (docs/cuda.md).
#include "engines/cuda/int4_kernels_cuda.h"

#include <algorithm>
#include <cstdlib>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

// Blocks per SM the registers are cut for at n <= 4 (2 at n <= 8). On the H100 more resident warps beat
// deeper load batches: per 7B decode step 3.60 ms for one unit at a time / 5 blocks (48 registers), 4.08 for
// batches of 4 units / 3 blocks, 3.78 for one unit / 6 blocks (40 registers, spills), and a rolling window
// of 3-4 units in flight was slower still (4.7-5.4 ms; the variants are in commit 63d00a0, docs/cuda.md).
constexpr int occupancy(int nt) { return nt > 4 ? 2 : 5; }

__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p)); }

// Tile pair i of unit u: this lane's activation fragments (zero where its token rows hold no token). Loaded per
// pair, not per unit, so that a unit's four pairs do not hold 16 registers (L1/L2 hits: other warps cover them).
template <int NT>
__device__ __forceinline__ void load_xfrag_pair(const uint4* __restrict__ xf, int u, int i, int lane, int n, uint4& xa,
                                                uint4& xb) {
  constexpr int H = NT <= 4 ? 1 : 2;
  const int g = lane >> 2;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  const uint4* p = xf + (int64_t(u) * 4 + i) * H * 32 + lane;
  xa = g < 2 * n ? __ldg(p) : zero;
  xb = (H == 2 && g + 8 < 2 * n) ? __ldg(p + 32) : zero;
}

// One unit: 8 tiles of dequantised codes × activation fragments into acc (scales applied per interval).
template <int NT, bool HS, bool G1>
__device__ __forceinline__ void unit_math(const uint4& cw, Int4LaneSz s, const Int4GemvArgs& a, const void* sz,
                                          int64_t sz_row, int u, int lane, int g, int c, float (&acc)[4]) {
  const Int4Groups& gr = a.g;
  uint4 A, B;  // the current tile pair's activation fragments
  const uint32_t words[4] = {cw.x, cw.y, cw.z, cw.w};
  float d[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    if constexpr (!G1) {
      if ((t & gr.tile_mask) == 0) {  // a new scale interval: its group's constants
        Int4RawSz<HS> r;
        r.load(sz, sz_row + int64_t(group_of(u * kInt4Unit + 16 * t, gr)) * kInt4Rows, g, c);
        s = lane_sz<HS>(r);
      }
    }
    const uint32_t w = (t & 1) ? words[t >> 1] >> 8 : words[t >> 1];
    uint32_t b0, b1;
    int4_bfrag(w, s, b0, b1);
    if ((t & 1) == 0) load_xfrag_pair<NT>(a.xf, u, t >> 1, lane, a.n, A, B);
    if (t & 1) mma_16816(d, A.z, B.z, A.w, B.w, b0, b1);
    else mma_16816(d, A.x, B.x, A.y, B.y, b0, b1);
    if ((G1 && t == 7) || (!G1 && ((t + 1) & gr.tile_mask) == 0)) {
      acc[0] = __fmaf_rn(s.s0, d[0], acc[0]);
      acc[1] = __fmaf_rn(s.s1, d[1], acc[1]);
      if constexpr (NT > 4) {
        acc[2] = __fmaf_rn(s.s0, d[2], acc[2]);
        acc[3] = __fmaf_rn(s.s1, d[3], acc[3]);
      }
      d[0] = d[1] = d[2] = d[3] = 0.f;
    }
  }
}

template <int NT, bool HS, bool ONE_GROUP_PER_UNIT>
__global__ void __launch_bounds__(kInt4GemvWarps * 32, occupancy(NT)) int4_gemv_kernel(const Int4GemvArgs a, int ks) {
  pdl_enter();
  __shared__ float part[kInt4GemvWarps][8][kInt4Rows];  // [warp][token][row] of split-K partial sums
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5;
  const int g = lane >> 2, c = lane & 3;
  const int rbl = wib / ks, kp = wib % ks;
  int64_t rb = int64_t(blockIdx.x) * (kInt4GemvWarps / ks) + rbl;
  int64_t total = a.seg[0].rb_end;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg) total = a.seg[i].rb_end;
  const bool active = rb < total;
  // The segment, with constant indices only (a run-time index would copy the arguments to local memory);
  // its epilogue pointers are looked up again after the loop, which keeps them out of its registers.
  const uint4* codes = a.seg[0].codes;
  const void* sz = a.seg[0].sz;
  int64_t base = 0;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rb >= a.seg[i - 1].rb_end) {
      codes = a.seg[i].codes;
      sz = a.seg[i].sz;
      base = a.seg[i - 1].rb_end;
    }
  const int64_t rb_global = rb;
  rb -= base;
  const int units = a.units;
  const Int4Groups gr = a.g;

  // acc[0..1]: token row g, output rows 2c, 2c + 1; acc[2..3]: token row g + 8 (NT > 4 only).
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  if (active) {
    const int per = units / ks, rem = units % ks;
    const int u0 = kp * per + min(kp, rem), u1 = u0 + per + (kp < rem ? 1 : 0);
    const uint4* cp = codes + rb * units * 32 + lane;
    const int64_t sz_row = rb * gr.groups * kInt4Rows;  // entries of this row block's first group
    for (int u = u0; u < u1; ++u) {  // one unit at a time, the next one's codes asked of L2 meanwhile
      const uint4 cw = __ldcs(cp + int64_t(u) * 32);
      Int4RawSz<HS> raw;
      if constexpr (ONE_GROUP_PER_UNIT) raw.load(sz, sz_row + int64_t(group_of(u * kInt4Unit, gr)) * kInt4Rows, g, c);
      if (u + 1 < u1) prefetch_l2(cp + int64_t(u + 1) * 32);
      Int4LaneSz s{};
      if constexpr (ONE_GROUP_PER_UNIT) s = lane_sz<HS>(raw);
      unit_math<NT, HS, ONE_GROUP_PER_UNIT>(cw, s, a, sz, sz_row, u, lane, g, c, acc);
    }
  }

  // hi + lo: token row g + 1 (lane + 4) holds the lo half of token g / 2.
#pragma unroll
  for (int i = 0; i < 4; ++i) acc[i] += __shfl_down_sync(0xffffffffu, acc[i], 4);
  const bool holder = (g & 1) == 0;  // lanes holding token t = g / 2 (acc[0..1]) and t + 4 (acc[2..3])
  const int t0 = g >> 1;
  if (ks > 1) {
    if (holder) {
      part[wib][t0][2 * c] = acc[0];
      part[wib][t0][2 * c + 1] = acc[1];
      part[wib][t0 + 4][2 * c] = acc[2];
      part[wib][t0 + 4][2 * c + 1] = acc[3];
    }
    __syncthreads();
    if (kp != 0) return;
    if (holder)
      for (int j = 1; j < ks; ++j) {
        acc[0] += part[wib + j][t0][2 * c];
        acc[1] += part[wib + j][t0][2 * c + 1];
        acc[2] += part[wib + j][t0 + 4][2 * c];
        acc[3] += part[wib + j][t0 + 4][2 * c + 1];
      }
  }
  if (!active || !holder) return;
  float* y = a.seg[0].y;
  const float* bias = a.seg[0].bias;
  float* resid = a.seg[0].resid;
  int64_t rows = a.seg[0].rows;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rb_global >= a.seg[i - 1].rb_end) {
      y = a.seg[i].y;
      bias = a.seg[i].bias;
      resid = a.seg[i].resid;
      rows = a.seg[i].rows;
    }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int t = t0 + (i >= 2 ? 4 : 0);
    const int64_t row = rb * kInt4Rows + 2 * c + (i & 1);
    if (t >= a.n || row >= rows) continue;
    float v = acc[i];
    if (bias) v += bias[row];
    const int64_t o = int64_t(t) * rows + row;
    y[o] = v;
    if (resid) resid[o] += v;
  }
}

__global__ void xfrag_kernel(const float* __restrict__ x, const int32_t* __restrict__ perm, int n, int64_t in,
                             int units, int H, uint4* __restrict__ xf) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(units) * 4 * H * 32) return;
  const int lane = int(i & 31);
  const int64_t rest = i >> 5;
  const int h = int(rest % H);
  const int64_t up = rest / H;  // unit · 4 + pair
  const int row = (lane >> 2) + 8 * h, t = row >> 1;
  uint32_t w[4] = {0, 0, 0, 0};
  if (t < n) {
    const bool lo = row & 1;
    const int64_t k0 = up * 32 + 2 * (lane & 3);  // tile 2·pair of unit: inputs 16·(2·pair) + 2c
    const float* xt = x + int64_t(t) * in;
    auto at = [&](int64_t j) { return j < in ? xt[perm ? perm[j] : j] : 0.f; };
#pragma unroll
    for (int q = 0; q < 4; ++q) {  // {tile 2i: k0, k0 + 8; tile 2i + 1: k0 + 16, k0 + 24}
      const int64_t k = k0 + (q & 1) * 8 + (q >> 1) * 16;
      uint32_t hi, rem;
      split_half2(at(k), at(k + 1), hi, rem);
      w[q] = lo ? rem : hi;
    }
  }
  xf[i] = make_uint4(w[0], w[1], w[2], w[3]);
}

// Blocks of this kernel the whole GPU holds at once (cached per instantiation).
template <int NT, bool HS, bool G1>
int64_t resident_blocks() {
  static const int64_t n = [] {
    int per_sm = 0;
    QB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, int4_gemv_kernel<NT, HS, G1>, kInt4GemvWarps * 32, 0));
    return int64_t(std::max(1, sm_count() * per_sm));
  }();
  return n;
}

template <int NT, bool HS, bool G1>
void launch_t(const Int4GemvArgs& a, cudaStream_t s) {
  const int64_t total = a.seg[a.nseg - 1].rb_end;
  // Split a row block's units over 2..8 warps of one block (added up in shared memory) while the
  // launch stays within one wave and each warp keeps at least 2 units: few row blocks (q/k/v, o,
  // down) then keep every SM busy. QBENCH_INT4_KSPLIT=1|2|4|8 forces the split (measurements).
  static const int forced = [] {
    const char* e = std::getenv("QBENCH_INT4_KSPLIT");
    const int v = e ? std::atoi(e) : 0;
    return v == 1 || v == 2 || v == 4 || v == 8 ? v : 0;
  }();
  const int64_t cap_warps = resident_blocks<NT, HS, G1>() * kInt4GemvWarps;
  int ks = 1;
  if (forced) {
    ks = forced;
    while (ks > 1 && ks > a.units) ks /= 2;
  } else {
    while (ks < kInt4GemvWarps && total * ks * 2 <= cap_warps && a.units >= 4 * ks) ks *= 2;
  }
  const int64_t per_block = kInt4GemvWarps / ks;
  const unsigned blocks = unsigned((total + per_block - 1) / per_block);
  launch_pdl(int4_gemv_kernel<NT, HS, G1>, dim3(blocks), dim3(kInt4GemvWarps * 32), 0, s, a, ks);
}

template <int NT>
void launch_nt(const Int4GemvArgs& a, bool hs, cudaStream_t s) {
  const bool g1 = a.g.tile_mask == 7;
  if (hs) g1 ? launch_t<NT, true, true>(a, s) : launch_t<NT, true, false>(a, s);
  else g1 ? launch_t<NT, false, true>(a, s) : launch_t<NT, false, false>(a, s);
}

}  // namespace

void launch_int4_gemv(const Int4GemvArgs& a, bool half_scales, cudaStream_t s) {
  if (a.n <= 4) launch_nt<4>(a, half_scales, s);
  else launch_nt<8>(a, half_scales, s);
  QB_CUDA_LAUNCH("int4 gemv");
}

void launch_int4_xfrag(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, uint4* xf,
                       cudaStream_t s) {
  const int units = int(in_pad / kInt4Unit), H = int4_xfrag_halves(n);
  const int64_t threads = int64_t(units) * 4 * H * 32;
  launch_pdl(xfrag_kernel, dim3(unsigned((threads + 255) / 256)), dim3(256), 0, s, x, perm, int(n), in, units, H, xf);
  QB_CUDA_LAUNCH("int4 activation fragments");
}

}  // namespace qbench::cuda
