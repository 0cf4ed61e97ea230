// One-token decode GEMV over the int4 device layout (int4_kernels_cuda.h), its weights streamed through
// shared memory by bulk copies (sm_90+).
//
// Why not the per-warp GEMV (int4_gemv_cuda.cu) at batch 1: it keeps about one 1 KiB unit per warp in flight
// and reaches 2.2-2.3 TB/s on gate/up but ~1 TB/s on the small q/k/v and o launches (ramp and tail), and it
// hands out whole row blocks, so down's 224 row blocks (16-warp blocks) load 92 SMs twice and 40 once. Here:
// - work is balanced by units: block b of B (at most one per SM) takes units [b·T/B, (b+1)·T/B) of the
//   launch's T = row blocks × units in storage order (row-block major: one contiguous byte range per segment);
// - a producer warp streams them into a ring of shared-memory stages, codes and their scales, with bulk
//   copies (bulk_copy.cuh): up to ~100 KB per SM in flight, independent of how fast the warps multiply. It
//   starts before the PDL wait (weights only), so a launch's first stages arrive while the kernel before it
//   still runs; the whole q/k/v or o matrix fits in the rings of the 7B shape;
// - 16 consumer warps take one unit each per stage (int4_unit_math.cuh) and leave per-row-block sums in
//   shared memory, added up in warp order at the end;
// - a row block cut between blocks: each block leaves its part in scratch (Int4StreamScratch) and the last to
//   arrive (a counter per row block) adds the parts in block order and runs the epilogue, so results do not
//   depend on timing.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "engines/core/env_flag.h"
#include "engines/cuda/bulk_copy.cuh"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/int4_kernels_cuda.h"
#include "engines/cuda/int4_norm_fold.cuh"
#include "engines/cuda/int4_unit_math.cuh"
#include "engines/cuda/int4_xfrag.cuh"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

constexpr int kConsumers = 16;
constexpr int kThreads = (kConsumers + 1) * 32;
constexpr int kStage = kConsumers;                   // units per ring stage: one per consumer warp
constexpr int kUnitBytes = kInt4UnitVecs * 16;       // 1 KiB of codes per (row block, unit)
constexpr int kMaxStages = 8;
// Shared memory per block, padded to this whatever the ring needs: more than half an SM's 228 KB, so one block
// per SM, also when the launch starts while other kernels still hold SMs. At 110 KB (two per SM) the GPTQ 7B
// step took 4.5-4.6 ms against 3.4 (H100, first version of this kernel, 2026-11-22): blocks landed two on some
// SMs and none on others. QBENCH_INT4_STREAM_SMEM (KiB) overrides it (A/B runs).
constexpr int kSmemBudget = 120 * 1024;

// What the kernel needs besides the arguments (host-computed per launch).
struct StreamGeom {
  int64_t T;    // units of the launch
  int trigger;  // PDL trigger: 0 at the start, 1 after the wait, 2 at the end (A/B runs)
  int nomath;   // 1: the consumers skip the arithmetic (measurement of the stream alone; results wrong)
  int B;        // blocks
  int stages;   // ring slots
  int sz_slot;  // bytes of one stage's scale slot
  int rbl;      // row-block slots of partial sums per block
};

// Where a stage's units lie, written by the producer with the stage: global row block, unit within it and the
// entry of the row block's scales relative to the stage's scale slot.
struct StageInfo {
  int len;
  int rbg[kStage], u[kStage], szrel[kStage];
};

// A segment's fields, picked with constant indices (a run-time index would copy the arguments to local memory).
struct SegView {
  const uint4* codes;
  const void* sz;
  int rb_begin, rb_end;
};
__device__ __forceinline__ SegView seg_at(const Int4GemvArgs& a, int rb) {
  SegView v{a.seg[0].codes, a.seg[0].sz, 0, int(a.seg[0].rb_end)};
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rb >= a.seg[i - 1].rb_end)
      v = {a.seg[i].codes, a.seg[i].sz, int(a.seg[i - 1].rb_end), int(a.seg[i].rb_end)};
  return v;
}

// Units are counted in 32 bits (the launcher checks T < 2^31): a 64-bit division per unit would cost as much as
// the unit's arithmetic.
__device__ __forceinline__ int block_start(int64_t b, const StreamGeom& sg) { return int(b * sg.T / sg.B); }
// The block whose range holds unit L.
__device__ __forceinline__ int block_of(int L, const StreamGeom& sg) {
  int b = int(((int64_t(L) + 1) * sg.B + sg.T - 1) / sg.T - 1);
  while (b + 1 < sg.B && block_start(b + 1, sg) <= L) ++b;
  while (b > 0 && block_start(b, sg) > L) --b;
  return b;
}

// Scale entry (units of one row's (s, z)) of the first / last group that unit lu (of a segment, storage
// order) reads.
__device__ __forceinline__ int64_t first_entry(int lu, int units, const Int4Groups& gr) {
  const int rb = lu / units;
  return (int64_t(rb) * gr.groups + group_of((lu - rb * units) * kInt4Unit, gr)) * kInt4Rows;
}
__device__ __forceinline__ int64_t last_entry(int lu, int units, const Int4Groups& gr) {
  const int rb = lu / units;
  return (int64_t(rb) * gr.groups + group_of((lu - rb * units) * kInt4Unit + kInt4Unit - 1, gr)) * kInt4Rows;
}

// The end of the stage starting at unit L: kStage units, not past the block's range nor the segment.
__device__ __forceinline__ int stage_end(int L, int L1, const SegView& sv, int units) {
  return min(min(L + kStage, L1), sv.rb_end * units);
}

// y = v (· the folded norm's scale) (+ bias); resid += y; a folded RMSNorm's fragments and Σx² (lanes 0..15 =
// rows of global row block rbg; the whole warp calls it).
__device__ __forceinline__ void epilogue(const Int4GemvArgs& a, int rbg, float v, int lane, float nscale) {
  float* y = a.seg[0].y;
  const float* bias = a.seg[0].bias;
  float* resid = a.seg[0].resid;
  int64_t rows = a.seg[0].rows, base = 0;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rbg >= a.seg[i - 1].rb_end) {
      y = a.seg[i].y;
      bias = a.seg[i].bias;
      resid = a.seg[i].resid;
      rows = a.seg[i].rows;
      base = a.seg[i - 1].rb_end;
    }
  const int64_t rb = rbg - base, row = rb * kInt4Rows + lane;
  float ss = 0.f;
  if (lane < kInt4Rows && row < rows) {
    if (a.nf.scale_part) v *= nscale;
    if (bias) v += bias[row];
    y[row] = v;
    if (resid) {
      const float nv = resid[row] + v;
      resid[row] = nv;
      if (a.nf.norm_xf) {
        int4_xfrag_store1(a.nf.norm_xf, 1, 0, row, nv * a.nf.norm_w[row]);
        ss = nv * nv;
      }
    }
  }
  if (a.nf.norm_xf) {  // one segment of whole row blocks
    ss = warp_sum(ss);
    if (lane == 0) {
      a.nf.norm_part[rb] = ss;
      if (rb == 0) int4_xfrag_zero(a.nf.norm_xf, 1, rows);
    }
  }
}

template <bool HS, bool G1, int CHAINS>
__global__ void __launch_bounds__(kThreads, 2) int4_stream_gemv_kernel(const Int4GemvArgs a, const StreamGeom sg) {
#ifdef QBENCH_BULK_COPY
  if (sg.trigger == 0) pdl_trigger();  // the next launch may place its blocks now; it still waits for this one
  extern __shared__ __align__(128) unsigned char smem[];
  const int R = sg.stages;
  uint4* ring = reinterpret_cast<uint4*>(smem);
  unsigned char* szring = smem + size_t(R) * kStage * kUnitBytes;
  float* part = reinterpret_cast<float*>(szring + size_t(R) * sg.sz_slot);  // [rbl][consumer warp][16 rows]
  uint64_t* full = reinterpret_cast<uint64_t*>(part + sg.rbl * kConsumers * kInt4Rows);
  uint64_t* empty = full + R;
  StageInfo* info = reinterpret_cast<StageInfo*>(empty + R);
  __shared__ float nscale_s;

  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int units = a.units;
  const Int4Groups gr = a.g;
  const int esz = HS ? 4 : 8;  // bytes per scale entry
  const int L0 = block_start(blockIdx.x, sg), L1 = block_start(int64_t(blockIdx.x) + 1, sg);
  const int rb_lo = L0 / units;

  for (int i = threadIdx.x; i < sg.rbl * kConsumers * kInt4Rows; i += kThreads) part[i] = 0.f;
  if (threadIdx.x == 0) {
    for (int s = 0; s < R; ++s) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], kConsumers);
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (w == kConsumers) {
    // Producer: weights only, so no PDL wait before it. Besides the bytes it leaves each stage's unit
    // positions in info[slot], so that the consumers do no divisions.
    if (lane == 0) {
      const uint64_t pol = l2_evict_first_policy();
      int slot = 0;
      unsigned phase = 0;  // of the empty barriers, once the ring has wrapped
      bool wrapped = false;
      for (int L = L0;;) {
        if (wrapped) mbar_wait(&empty[slot], phase);
        StageInfo& si = info[slot];
        if (L >= L1) {  // the end: a stage of no units
          si.len = 0;
          mbar_arrive(&full[slot]);
          break;
        }
        const SegView sv = seg_at(a, L / units);
        const int end = stage_end(L, L1, sv, units), lu = L - sv.rb_begin * units;
        const int64_t e0 = first_entry(lu, units, gr), e1 = last_entry(end - 1 - sv.rb_begin * units, units, gr) + 16;
        si.len = end - L;
        int rb = lu / units, u = lu - rb * units;
        for (int p = 0; p < end - L; ++p) {
          si.rbg[p] = rb + sv.rb_begin;
          si.u[p] = u;
          si.szrel[p] = int(int64_t(rb) * gr.groups * kInt4Rows - e0);
          if (++u == units) u = 0, ++rb;
        }
        const unsigned cb = unsigned(end - L) * kUnitBytes, sb = unsigned(e1 - e0) * unsigned(esz);
        mbar_arrive_expect_bytes(&full[slot], cb + sb);  // releases the info writes above
        bulk_load(ring + size_t(slot) * kStage * kInt4UnitVecs, sv.codes + int64_t(lu) * kInt4UnitVecs, cb, &full[slot],
                  pol);
        bulk_load(szring + size_t(slot) * sg.sz_slot, static_cast<const unsigned char*>(sv.sz) + e0 * esz, sb,
                  &full[slot], pol);
        L = end;
        if (++slot == R) {
          slot = 0;
          if (wrapped) phase ^= 1u;
          wrapped = true;
        }
      }
    }
    __syncwarp();
    pdl_wait();  // this warp runs epilogues too
    if (sg.trigger == 1) pdl_trigger();
  } else {
    pdl_wait();
    if (sg.trigger == 1) pdl_trigger();
    const int g = lane >> 2;
    // One token: columns 0 and 1 (lanes 0..7) hold it, the rest read the zero fragment.
    const uint4* zero = a.xf + int64_t(units) * 4 * 32;
    const uint4* xp[2] = {g < 2 ? a.xf + lane : zero, zero};
    const int xs[2] = {g < 2 ? 32 : 0, 0};
    float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    int cur = -1;  // global row block that acc belongs to
    auto flush = [&]() {
      if (cur >= 0 && (lane & 3) == 0) {
        float* p = part + ((cur - rb_lo) * kConsumers + w) * kInt4Rows;
        p[g] = acc[0] + acc[1];
        p[g + 8] = acc[2] + acc[3];
      }
      acc[0] = acc[1] = acc[2] = acc[3] = 0.f;
    };
    int slot = 0;
    unsigned phase = 0;
    for (;;) {
      mbar_wait(&full[slot], phase);
      const StageInfo& si = info[slot];
      const int len = si.len;
      if (len == 0) break;
      if (w < len && !sg.nomath) {
        const int rbg = si.rbg[w], u = si.u[w], szrel = si.szrel[w];
        if (rbg != cur) {
          flush();
          cur = rbg;
        }
        const uint4* cs = ring + (size_t(slot) * kStage + w) * kInt4UnitVecs;
        const uint4 c0 = cs[lane], c1 = cs[32 + lane];
        const void* szs = szring + size_t(slot) * sg.sz_slot;  // entries relative to this stage's scales
        Int4LaneSz s{};
        if constexpr (G1) {
          Int4RawSz<HS> raw;
          raw.load_shared(szs, szrel + group_of(u * kInt4Unit, gr) * kInt4Rows, g);
          s = lane_sz<HS>(raw);
        }
        int4_unit_math<4, HS, G1, true, CHAINS>(c0, c1, s, gr, szs, szrel, u, g, xp, xs, acc);
      }
      __syncwarp();
      if (lane == 0) mbar_arrive(&empty[slot]);
      if (++slot == R) slot = 0, phase ^= 1u;
    }
    flush();
    if (w == 0 && a.nf.scale_part) {
      const float s = folded_norm_scale(a, lane);
      if (lane == 0) nscale_s = s;
    }
  }
  __syncthreads();

  // Row blocks of this block's range, one per warp at a time; lanes 0..15 are its rows.
  const int rb_hi = (L1 - 1) / units;
  const float nscale = a.nf.scale_part ? nscale_s : 1.f;
  for (int r = w; r <= rb_hi - rb_lo; r += kConsumers + 1) {
    const int rbg = rb_lo + r;
    float v = 0.f;
    if (lane < kInt4Rows)
      for (int k = 0; k < kConsumers; ++k) v += part[(r * kConsumers + k) * kInt4Rows + lane];
    if (rbg * units < L0 || (rbg + 1) * units > L1) {  // shared with other blocks
      const int bf = block_of(rbg * units, sg), bl = block_of((rbg + 1) * units - 1, sg);
      auto slot_of = [&](int b) { return rbg == block_start(b, sg) / units ? 0 : 1; };
      if (lane < kInt4Rows) a.ss.part[(int64_t(blockIdx.x) * 2 + slot_of(int(blockIdx.x))) * kInt4Rows + lane] = v;
      __threadfence();
      __syncwarp();
      unsigned arrived = 0;
      if (lane == 0) arrived = atomicAdd(&a.ss.count[rbg], 1u);
      arrived = __shfl_sync(0xffffffffu, arrived, 0);
      if (arrived != unsigned(bl - bf)) continue;  // not the last: the last one finishes this row block
      __threadfence();
      v = 0.f;
      for (int b = bf; b <= bl; ++b)
        if (lane < kInt4Rows) v += __ldcg(&a.ss.part[(int64_t(b) * 2 + slot_of(b)) * kInt4Rows + lane]);
      if (lane == 0) a.ss.count[rbg] = 0;  // ready for the next launch
    }
    epilogue(a, rbg, v, lane, nscale);
  }
  if (sg.trigger == 2) pdl_trigger();
#endif
}

bool device_is_sm90() {
  static const bool v = [] {
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return major >= 9;
  }();
  return v;
}

template <bool HS, bool G1, int CHAINS>
void launch_t(const Int4GemvArgs& a, const StreamGeom& sg, size_t smem, cudaStream_t s) {
  static std::atomic<size_t> configured{0};  // the dynamic shared memory this instantiation may take
  if (configured.load() < smem) {
    QB_CUDA(cudaFuncSetAttribute(int4_stream_gemv_kernel<HS, G1, CHAINS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 int(smem)));
    configured.store(smem);
  }
  launch_pdl(int4_stream_gemv_kernel<HS, G1, CHAINS>, dim3(unsigned(sg.B)), dim3(kThreads), smem, s, a, sg);
}

}  // namespace

bool launch_int4_stream_gemv(const Int4GemvArgs& a, bool half_scales, cudaStream_t s) {
  static const bool on = env_int("QBENCH_INT4_STREAM", 0, 0, 1) != 0;
  // A/B switches: shared memory per block in KiB (also what decides how many blocks share an SM) and where
  // the PDL trigger sits.
  static const int budget = int(env_int("QBENCH_INT4_STREAM_SMEM", kSmemBudget / 1024, 40, 220)) * 1024;
  static const int trigger = int(env_int("QBENCH_INT4_STREAM_TRIGGER", 0, 0, 2));
  static const int chains = int(env_int("QBENCH_INT4_STREAM_CHAINS", 1, 1, 2));
  static const int nomath = int(env_int("QBENCH_INT4_STREAM_NOMATH", 0, 0, 1));
  if (!on || a.n != 1 || !a.ss.part || !a.ss.count || !device_is_sm90()) return false;
  const int64_t total_rb = a.seg[a.nseg - 1].rb_end;
  if (total_rb > a.ss.max_row_blocks || a.units <= 0 || total_rb * a.units >= (int64_t(1) << 31)) return false;
  StreamGeom sg{};
  sg.T = total_rb * a.units;
  sg.B = int(std::min<int64_t>({int64_t(sm_count()), int64_t(a.ss.max_blocks), (sg.T + kStage - 1) / kStage}));
  // Scale entries one stage may read: kStage units × the groups one unit touches at most.
  const Int4Groups& gr = a.g;
  const int gsize = gr.gshift >= 0 ? (1 << gr.gshift) : gr.gsize;
  int per_unit = 1;
  if (gr.groups > 1 && gsize > 0)
    per_unit = kInt4Unit % gsize == 0 ? kInt4Unit / gsize : gsize % kInt4Unit == 0 ? 1 : (kInt4Unit - 1) / gsize + 2;
  per_unit = std::min(per_unit, gr.groups);
  sg.sz_slot = kStage * per_unit * kInt4Rows * (half_scales ? 4 : 8);
  const int64_t range = (sg.T + sg.B - 1) / sg.B;
  sg.rbl = int((range + a.units - 1) / a.units + 1);
  const size_t fixed = size_t(sg.rbl) * kConsumers * kInt4Rows * sizeof(float);
  const size_t per_stage = size_t(kStage) * kUnitBytes + size_t(sg.sz_slot) + 2 * sizeof(uint64_t) + sizeof(StageInfo);
  if (fixed + 2 * per_stage > size_t(budget)) return false;
  sg.stages = int(std::min<size_t>(kMaxStages, (budget - fixed) / per_stage));
  const size_t smem = size_t(budget);  // padded: the budget, not the need, sets the blocks per SM
  sg.trigger = trigger;
  sg.nomath = nomath;
  const bool g1 = gr.tile_mask == 7;
  if (chains == 2) {
    if (half_scales) g1 ? launch_t<true, true, 2>(a, sg, smem, s) : launch_t<true, false, 2>(a, sg, smem, s);
    else g1 ? launch_t<false, true, 2>(a, sg, smem, s) : launch_t<false, false, 2>(a, sg, smem, s);
  } else {
    if (half_scales) g1 ? launch_t<true, true, 1>(a, sg, smem, s) : launch_t<true, false, 1>(a, sg, smem, s);
    else g1 ? launch_t<false, true, 1>(a, sg, smem, s) : launch_t<false, false, 1>(a, sg, smem, s);
  }
  return true;
}

}  // namespace qbench::cuda
