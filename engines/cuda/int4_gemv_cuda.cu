// Decode GEMV over the int4 device layout (int4_kernels_cuda.h), n <= 8 tokens,
// on the tensor cores.
//
// Arithmetic: W is the mma's A operand. A lane turns one code word into the
// tile's four FP16 pairs q − z with 4 LOP3, a shift and 4 half2 operations
// (exact: 1024 + q is an FP16 value), and one mma.sync m16n8k16 multiplies 16
// rows × 16 inputs for 4 tokens (two for 8): ~10 instructions per 256 weights
// in the tile loop (estimated from the source; the SASS was not counted). The activations are the B operand, 8 "token columns"
// holding FP16 hi and lo halves of each token (built once per input by
// launch_int4_xfrag, or by the launch that produced x: half_copy.h
// fold_int4_fragments), so the products keep ~22 bits of x; the tensor core sums
// in FP32 and the group's scale multiplies those sums in FP32. Lanes of columns
// that hold no token read one shared zero fragment: no moves, one L1 sector.
// (Before this layout W was the B operand, 8 rows per mma, and the SASS unit loop
// spent 47 of ~153 instructions per 1024 weights assembling the activations'
// register quads: docs/cuda.md.)
//
// A warp owns one row block (16 rows) or a 1/2…1/16 share of its units
// (split-K, added up in shared memory), chosen so that the launch fills the GPU
// with one wave; the block size is chosen so that the busiest SM gets as few
// row blocks as possible. A lane loads the next unit's codes (2 × 16 bytes,
// evict-first) and scales/zeros into registers while it multiplies this one's;
// the first unit's before the PDL wait (pdl.cuh), behind the previous kernel.
// Launches with at most 4 units per warp whose blocks start during the kernel
// before (o) request all of their units into shared memory before that wait
// instead (kStageMaxUnits below).
#include "engines/cuda/int4_kernels_cuda.h"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "engines/core/env_flag.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/int4_unit_math.cuh"
#include "engines/cuda/int4_xfrag.cuh"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

// Resident warps per SM the registers are cut for: 32 at n <= 4 (64 registers), 16 at n <= 8. Blocks have
// up to kMaxWarps warps (chosen per launch). Not kept (H100, GPTQ 7B step, docs/cuda.md): more units in
// flight per warp, 3 in registers (2.83-2.84 ms against 2.79-2.80) or 4 in a cp.async ring in shared
// memory (H200: 2.84-2.86 against 2.67-2.68); before, 2 in registers (step unchanged).
constexpr int kMaxWarps = 16;
constexpr int min_blocks(int nt) { return (nt > 4 ? 16 : 32) / kMaxWarps; }

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

// The segment of global row block rb (its epilogue pointers), chosen with constant indices only: a run-time
// index into the arguments would copy them to local memory.
__device__ __forceinline__ Int4Segment segment_of(const Int4GemvArgs& a, int64_t rb) {
  Int4Segment s = a.seg[0];
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rb >= a.seg[i - 1].rb_end) s = a.seg[i];
  return s;
}

// Staged launches (DEPTH > 0, at most DEPTH units per warp: o of the 7B shape): before the PDL wait, every unit
// of a warp is requested into its own shared-memory slot with cp.async (codes and the group's 16 scale/zero
// entries: F16 scales, one group per unit), and the epilogue's bias, residual and norm weight into registers;
// after the wait only the activations are left to fetch. The register path (DEPTH 0) keeps one unit ahead, so
// those units took dependent DRAM round trips after the wait. Slots of one unit: 64 uint4 of codes, 4 of scales.
constexpr int kStageMaxUnits = 4;
constexpr int kStageUnitVecs = kInt4UnitVecs + 4;

// SILU: the SiLU·mul fold (Int4SiluFold): a.silu is set, NT <= 4. Its own instantiation, so that the other
// launches keep the unit loop's registers as they were.
template <int NT, bool HS, bool ONE_GROUP_PER_UNIT, int CHAINS, int DEPTH = 0, bool SILU = false>
__global__ void __launch_bounds__(kMaxWarps * 32, min_blocks(NT))
    int4_gemv_kernel(const Int4GemvArgs a, int ks, bool early) {
  static_assert(!SILU || NT <= 4, "the SiLU fold takes n <= 4");
  constexpr bool STAGED = DEPTH > 0;
  static_assert(!STAGED || (HS && ONE_GROUP_PER_UNIT && NT <= 4), "staged: F16 scales, one group per unit, n <= 4");
  constexpr int H = NT <= 4 ? 1 : 2;
  __shared__ float part[kMaxWarps][2 * H][32];  // [warp][output][lane] of split-K partial sums
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5, wpb = blockDim.x >> 5;
  const int g = lane >> 2, c = lane & 3;
  const int rbl = wib / ks, kp = wib % ks;
  int64_t rb = int64_t(blockIdx.x) * (wpb / ks) + rbl;
  // SiLU·mul fold: row-block slot q < P of a block takes gate's row block blockIdx · P + q, slot q + P up's same.
  if constexpr (SILU) {
    const int P = (wpb / ks) / 2;
    rb = (rbl < P ? 0 : a.seg[0].rb_end) + int64_t(blockIdx.x) * P + rbl % P;
  }
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

  const int per = units / ks, rem = units % ks;
  const int u0 = kp * per + min(kp, rem), u1 = active ? u0 + per + (kp < rem ? 1 : 0) : u0;
  const uint4* cp = codes + rb * units * kInt4UnitVecs + lane;  // unit u at cp + u · kInt4UnitVecs, half 1 + 32
  const int64_t sz_row = rb * gr.groups * kInt4Rows;  // entries of this row block's first group
  // The next unit's codes (and, with one group per unit, its scales and zeros) are loaded while this one is
  // multiplied. The first unit's are requested before the wait for the kernel before this one (pdl.cuh:
  // weights only), so their latency overlaps its tail.
  auto sz_entry = [&](int u) { return sz_row + int64_t(group_of(u * kInt4Unit, gr)) * kInt4Rows; };
  uint4 n0{}, n1{};
  Int4RawSz<HS> nraw{};
  auto fetch = [&](int u) {
    n0 = __ldcs(cp + int64_t(u) * kInt4UnitVecs);
    n1 = __ldcs(cp + int64_t(u) * kInt4UnitVecs + 32);
    if constexpr (ONE_GROUP_PER_UNIT) nraw.load(sz, sz_entry(u), g);
  };
  extern __shared__ uint4 stage_smem[];  // DEPTH slots per warp
  uint4* const ws = stage_smem + wib * (DEPTH * kStageUnitVecs);
  auto stage = [&](int u) {  // unit u into slot u - u0; one commit group per slot (empty past u1)
    if (u < u1) {
      uint4* su = ws + (u - u0) * kStageUnitVecs;
      cp_async16(su + lane, cp + int64_t(u) * kInt4UnitVecs, true);
      cp_async16(su + 32 + lane, cp + int64_t(u) * kInt4UnitVecs + 32, true);
      if (lane < 4) cp_async16(su + 64 + lane, static_cast<const uint4*>(sz) + sz_entry(u) / 4 + lane, true);
    }
    cp_async_commit();
  };
  // Epilogue operands that no kernel of this step writes before this one (bias, norm weight) or that the
  // kernels before it finished writing before it was launched (the residual: pdl.cuh), read through L2.
  float pre_bias[2] = {0.f, 0.f}, pre_res[2] = {0.f, 0.f}, pre_w[2] = {0.f, 0.f};
  auto epilogue_operands = [&] {
    const Int4Segment sg = segment_of(a, rb_global);
    const float* bias = sg.bias;
    const float* resid = sg.resid;
    const int64_t rows = sg.rows;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int64_t row = rb * kInt4Rows + g + 8 * j;
      if (c >= a.n || row >= rows) continue;
      if (bias) pre_bias[j] = __ldcg(bias + row);
      if (resid) pre_res[j] = __ldcg(resid + int64_t(c) * rows + row);
      if (a.nf.norm_xf) pre_w[j] = __ldg(a.nf.norm_w + row);
    }
  };
  if constexpr (STAGED) {
#pragma unroll
    for (int i = 0; i < DEPTH; ++i) stage(u0 + i);
    if (kp == 0 && active) epilogue_operands();
  } else {
    if (early && u0 < u1) fetch(u0);
  }
  // A GEMV that took over an RMSNorm has another GEMV right after it: that one's blocks are scheduled once
  // these finish (pdl_trigger at the end), not alongside them.
  pdl_wait();
  if (!a.trigger_late) pdl_trigger();
  if constexpr (!STAGED) {
    if (!early && u0 < u1) fetch(u0);
  }
  // A folded RMSNorm's scale (n == 1): its partial sums come from L2 while the first unit's codes are in
  // flight; kept in shared memory (one slot per warp) rather than a register through the unit loop. (Read
  // after the loop instead: the same step time within noise, H100, 2026-11-22.)
  __shared__ float norm_scale[kMaxWarps];
  if (a.nf.scale_part) {
    const float s = folded_norm_scale(a, lane);
    if (lane == 0) norm_scale[wib] = s;
    __syncwarp();
  }

  // acc[4h ..]: token c + 4h, rows g (hi, lo) and g + 8 (hi, lo).
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (active) {
    // Column g of half h holds token g / 2 + 4h: lanes past the last token read the zero fragment.
    const uint4* zero = a.xf + int64_t(units) * 4 * H * 32;
    const uint4* xp[2];
    int xs[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const bool real = h < H && g < 2 * (a.n - 4 * h);
      xp[h] = real ? a.xf + h * 32 + lane : zero;
      xs[h] = real ? H * 32 : 0;
    }
    if constexpr (STAGED) {
      for (int u = u0; u < u1; ++u) {
        cp_async_wait<DEPTH - 1>();  // unit u's group; the DEPTH - 1 committed after it may still be in flight
        __syncwarp();                // a lane's scales were copied by lanes 0..3
        cp_async_commit();           // an empty group, so that the same wait finds the next unit's next time
        const uint4* su = ws + (u - u0) * kStageUnitVecs;
        const uint4 c0 = su[lane], c1 = su[32 + lane];
        const uint32_t* se = reinterpret_cast<const uint32_t*>(su + 64);
        Int4RawSz<HS> raw;
        raw.lo = se[g];
        raw.hi = se[g + 8];
        int4_unit_math<NT, HS, ONE_GROUP_PER_UNIT, CHAINS>(c0, c1, lane_sz<HS>(raw), gr, sz, sz_row, u, g, xp, xs, acc);
      }
    } else {
      for (int u = u0; u < u1; ++u) {
        const uint4 c0 = n0, c1 = n1;
        const Int4RawSz<HS> raw = nraw;
        if (u + 1 < u1) fetch(u + 1);
        Int4LaneSz s{};
        if constexpr (ONE_GROUP_PER_UNIT) s = lane_sz<HS>(raw);
        int4_unit_math<NT, HS, ONE_GROUP_PER_UNIT, CHAINS>(c0, c1, s, gr, sz, sz_row, u, g, xp, xs, acc);
      }
    }
  }

  // out[j]: j = 2h + (row g + 8?), token c + 4h.
  float out[2 * H];
#pragma unroll
  for (int h = 0; h < H; ++h) {
    out[2 * h] = acc[4 * h] + acc[4 * h + 1];
    out[2 * h + 1] = acc[4 * h + 2] + acc[4 * h + 3];
  }
  if (ks > 1) {
#pragma unroll
    for (int j = 0; j < 2 * H; ++j) part[wib][j][lane] = out[j];
    __syncthreads();
    if (kp != 0 && !SILU) return;  // the SiLU fold's barrier below needs every warp
    if (kp == 0)
      for (int w = 1; w < ks; ++w)
#pragma unroll
        for (int j = 0; j < 2 * H; ++j) out[j] += part[wib + w][j][lane];
  }
  if constexpr (SILU) {
    // Gate's and up's sums of one row block meet in shared memory; the gate warp writes the fragments of
    // silu(gate) · up (the SiLU·mul kernel's arithmetic and stores, so bit-identical to it).
    __shared__ float pair[kMaxWarps][2][32];
    const int P = (wpb / ks) / 2;
    if (kp == 0)
#pragma unroll
      for (int j = 0; j < 2; ++j) pair[rbl][j][lane] = a.nf.scale_part ? out[j] * norm_scale[wib] : out[j];
    __syncthreads();
    if (kp != 0 || rbl >= P || !active) return;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int64_t row = rb * kInt4Rows + g + 8 * j;
      if (c >= a.n || row >= a.silu.rows) continue;
      const float gv = pair[rbl][j][lane], uv = pair[rbl + P][j][lane];
      int4_xfrag_store1(a.silu.xf, a.silu.halves, c, row, silu_mul1(gv, uv));
    }
    if (rb == 0 && lane == 0) int4_xfrag_zero(a.silu.xf, a.silu.halves, a.silu.rows);
    return;
  }
  if (!active) return;
  // The epilogue's pointers, looked up field by field (segment_of's whole-segment copy costs the unit loop
  // spilled registers in this instantiation: 48 / 68 bytes against 32 / 52, ptxas).
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
  float ss = 0.f;  // a folded RMSNorm's sum of x² over this lane's rows (n == 1: token 0)
#pragma unroll
  for (int j = 0; j < 2 * H; ++j) {
    const int t = c + 4 * (j >> 1);
    const int64_t row = rb * kInt4Rows + g + 8 * (j & 1);
    if (t >= a.n || row >= rows) continue;
    constexpr bool pre = STAGED;  // operands read before the wait (NT <= 4: j is the row half)
    float v = out[j];
    if (a.nf.scale_part) v *= norm_scale[wib];
    if (bias) v += pre ? pre_bias[j & 1] : bias[row];
    const int64_t o = int64_t(t) * rows + row;
    y[o] = v;
    if (resid) {
      const float nv = (pre ? pre_res[j & 1] : resid[o]) + v;
      resid[o] = nv;
      if (a.nf.norm_xf) {
        int4_xfrag_store1(a.nf.norm_xf, 1, 0, row, nv * (pre ? pre_w[j & 1] : a.nf.norm_w[row]));
        ss += nv * nv;
      }
    }
  }
  if (a.nf.norm_xf) {  // one segment of whole row blocks, every lane here
    ss = warp_sum(ss);
    if (lane == 0) {
      a.nf.norm_part[rb] = ss;
      if (rb == 0) int4_xfrag_zero(a.nf.norm_xf, 1, rows);
    }
  }
  if (a.trigger_late) pdl_trigger();  // a block counts as triggered once every thread triggered or exited
}

__global__ void xfrag_kernel(const float* __restrict__ x, const int32_t* __restrict__ perm, int n, int64_t in,
                             int units, int H, uint4* __restrict__ xf) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(units) * 4 * H * 32) {
    if (i == int64_t(units) * 4 * H * 32) xf[i] = make_uint4(0, 0, 0, 0);  // the zero fragment
    return;
  }
  const int lane = int(i & 31);
  const int64_t rest = i >> 5;
  const int h = int(rest % H);
  const int64_t up = rest / H;  // unit · 4 + pair
  const int col = (lane >> 2) + 8 * h, t = col >> 1;  // token column g of half h
  uint32_t w[4] = {0, 0, 0, 0};
  if (t < n) {
    const bool lo = col & 1;
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

// Warps of this kernel one SM holds at once in blocks of w warps (cached per instantiation and w).
template <int NT, bool HS, bool G1, int CHAINS>
int warps_per_sm(int w) {
  static std::atomic<int> cache[kMaxWarps + 1] = {};
  if (!cache[w].load()) {
    int per_sm = 0;
    QB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, int4_gemv_kernel<NT, HS, G1, CHAINS>, w * 32, 0));
    cache[w].store(std::max(1, per_sm) * w);
  }
  return cache[w].load();
}

// Staged launches (above) where a warp has at most kStageMaxUnits units and its blocks may already sit on
// the SMs while the kernel before runs: not behind a folded RMSNorm's producer, which lets them in only as it
// finishes (q/k/v). H100, GPTQ 7B pipelined step (2026-11-22): o staged 2.410 / 2.411 ms against 2.459 / 2.458
// unstaged; o's exclusive time in the step 5.7 -> 3.4 us; q/k/v staged too 2.429 / 2.428 (its blocks start
// cold: every unit requested at once came back later than one at a time). QBENCH_INT4_STAGE=0: off (A/B runs).
bool staging_enabled() {
  static const bool on = env_int("QBENCH_INT4_STAGE", 1, 0, 1) != 0;
  return on;
}

template <int NT, bool HS, bool G1, int CHAINS, int DEPTH>
void launch_staged(const Int4GemvArgs& a, int ks, unsigned blocks, int wpb, size_t bytes, cudaStream_t s) {
  static const bool attr = [] {
    QB_CUDA(cudaFuncSetAttribute(int4_gemv_kernel<NT, HS, G1, CHAINS, DEPTH>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 kMaxWarps * DEPTH * kStageUnitVecs * int(sizeof(uint4))));
    return true;
  }();
  (void)attr;
  launch_pdl(int4_gemv_kernel<NT, HS, G1, CHAINS, DEPTH>, dim3(blocks), dim3(wpb * 32), bytes, s, a, ks, true);
}

template <int NT, bool HS, bool G1, int CHAINS>
void launch_t(const Int4GemvArgs& a, cudaStream_t s) {
  const int64_t total = a.seg[a.nseg - 1].rb_end;
  const int64_t sms = sm_count();
  // Split a row block's units over 2..16 warps of one block (added up in shared memory) while the
  // launch stays within one wave and each warp keeps at least one unit: few row blocks (q/k/v, o,
  // down) then keep every SM busy. QBENCH_INT4_KSPLIT=1|2|4|8|16 forces the split, QBENCH_INT4_KSMAX caps it
  // (measurements).
  static const int forced = [] {
    const int v = int(env_int("QBENCH_INT4_KSPLIT", 0, 0, 16));
    return v == 1 || v == 2 || v == 4 || v == 8 || v == 16 ? v : 0;
  }();
  static const int ks_max = int(env_int("QBENCH_INT4_KSMAX", 16, 1, 16));
  static const bool balance = env_int("QBENCH_INT4_BALANCE", 1, 0, 1) != 0;
  const int64_t cap_warps = sms * warps_per_sm<NT, HS, G1, CHAINS>(8);
  // A paired launch (the SiLU fold) holds two row blocks per block, so at most kMaxWarps / 2 warps per row block.
  const int ks_cap = a.silu.xf ? std::min(ks_max, kMaxWarps / 2) : ks_max;
  int ks = 1;
  if (forced) {
    ks = std::min(forced, ks_cap);
    while (ks > 1 && ks > a.units) ks /= 2;
  } else {
    while (2 * ks <= ks_cap && total * ks * 2 <= cap_warps && a.units >= 2 * ks) ks *= 2;
  }
  // Warps per block: the block scheduler spreads a one-wave launch's blocks evenly over the SMs, so the
  // busiest SM holds ceil(blocks / SMs) blocks; take the block size (a multiple of ks) that gives it the
  // fewest row blocks and still fits one wave, larger blocks on ties. Gate/up of the 7B shape (2368 row
  // blocks, no split): 9 warps (18 row blocks on every SM) instead of 8 (24 on some, 16 on others).
  // QBENCH_INT4_BALANCE=0 keeps 8 warps (16 for split-K 16), as before (A/B runs).
  // The SiLU fold pairs gate's and up's row blocks in one block: an even number of row blocks per block.
  const bool paired = a.silu.xf != nullptr;
  int wpb = std::max(paired ? 2 * ks : 8, ks);
  if (balance || paired) {
    int64_t best = INT64_MAX;
    for (int w = ks; w <= kMaxWarps; w += ks) {
      if (paired && (w / ks) % 2 != 0) continue;
      const int64_t blocks = (total + w / ks - 1) / (w / ks), per_sm = (blocks + sms - 1) / sms;
      if (per_sm * w > warps_per_sm<NT, HS, G1, CHAINS>(w)) continue;
      const int64_t load = per_sm * (w / ks);
      if (load <= best) best = load, wpb = w;
    }
  }
  const int64_t per_block = wpb / ks;
  const unsigned blocks = unsigned((total + per_block - 1) / per_block);
  const int units_per_warp = (a.units + ks - 1) / ks;
  if constexpr (HS && G1 && NT <= 4 && CHAINS == 4) {
    // Few units per warp: all of them requested before the wait (not behind a folded RMSNorm's producer,
    // whose successors start only as it finishes). A ring for the launches with many units per warp (gate/up,
    // down) was slower: GPTQ 7B step 2.717-2.727 ms with 2 slots per warp, 2.818 with 4, against 2.424-2.426 in
    // registers (H100, 2026-11-22; gate/up 30.2 -> 42.1 us per launch in the step), as the rings of earlier
    // sessions were (docs/cuda.md).
    // Staging is an early weight load: QBENCH_CUDA_EARLY_WEIGHTS=0 (pdl_control.h) turns it off with the others.
    if (staging_enabled() && early_weight_loads() && units_per_warp <= kStageMaxUnits && !a.nf.scale_part &&
        !a.silu.xf) {
      const int depth = units_per_warp <= 2 ? 2 : 4;
      const size_t bytes = size_t(wpb) * depth * kStageUnitVecs * sizeof(uint4);
      if (depth == 2) launch_staged<NT, HS, G1, CHAINS, 2>(a, ks, blocks, wpb, bytes, s);
      else launch_staged<NT, HS, G1, CHAINS, 4>(a, ks, blocks, wpb, bytes, s);
      return;
    }
  }
  if constexpr (NT <= 4) {
    if (a.silu.xf) {
      launch_pdl(int4_gemv_kernel<NT, HS, G1, CHAINS, 0, true>, dim3(blocks), dim3(wpb * 32), 0, s, a, ks,
                 early_weight_loads());
      return;
    }
  }
  launch_pdl(int4_gemv_kernel<NT, HS, G1, CHAINS>, dim3(blocks), dim3(wpb * 32), 0, s, a, ks, early_weight_loads());
}

template <int NT>
void launch_nt(const Int4GemvArgs& a, bool hs, cudaStream_t s) {
  const bool g1 = a.g.tile_mask == 7;
  // n <= 4: four tensor-core sum chains per unit (int4_unit_math.cuh), so a unit no longer waits on 8 mma in a
  // row: GPTQ 7B step 2.927 / 2.905 ms (1 chain) -> 2.790 / 2.762 (2) -> 2.706 / 2.786 (4), AWQ 2.889 / 2.872 ->
  // 2.737 / 2.709 -> 2.702 / 2.703 (H100, one run, two alternations, 2026-11-22). At the 64-register cap the
  // 4-chain kernel spills 32 bytes; uncapped (108 registers, fewer warps per SM) it was slower than one chain
  // (3.196 / 3.158 against 3.036 / 3.018 ms, 4 chains capped 2.810 / 2.790, another machine). QBENCH_INT4_CHAINS=1
  // for A/B runs (2 is not instantiated: 4 was as fast or faster); n > 4 keeps one chain (two token halves
  // already make two, and registers are tight).
  if constexpr (NT <= 4) {
    static const bool four = env_int("QBENCH_INT4_CHAINS", 4, 1, 4) != 1;
    if (four) {
      if (hs) g1 ? launch_t<NT, true, true, 4>(a, s) : launch_t<NT, true, false, 4>(a, s);
      else g1 ? launch_t<NT, false, true, 4>(a, s) : launch_t<NT, false, false, 4>(a, s);
      return;
    }
  }
  if (hs) g1 ? launch_t<NT, true, true, 1>(a, s) : launch_t<NT, true, false, 1>(a, s);
  else g1 ? launch_t<NT, false, true, 1>(a, s) : launch_t<NT, false, false, 1>(a, s);
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
  const int64_t threads = int64_t(units) * 4 * H * 32 + 1;
  launch_pdl(xfrag_kernel, dim3(unsigned((threads + 255) / 256)), dim3(256), 0, s, x, perm, int(n), in, units, H, xf);
  QB_CUDA_LAUNCH("int4 activation fragments");
}

}  // namespace qbench::cuda
