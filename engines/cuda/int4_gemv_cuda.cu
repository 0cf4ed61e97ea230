// Decode GEMV over the int4 device layout (int4_kernels_cuda.h), n <= 8 tokens,
// on the tensor cores.
//
// Arithmetic: dequantising to FP32 and multiplying there cost ~4.4
// instructions per weight (the first kernel). Here a lane turns 8 codes into
// four FP16 pairs q − z with 4 LOP3 + 4 half2 operations (exact: 1024 + q is an
// FP16 value), and one mma.sync m16n8k16 multiplies 8 rows × 16 inputs for all
// tokens: ~1.3 instructions per weight. The activations are the mma's A
// operand, 16 "token rows" holding FP16 hi and lo halves of each token (packed
// once per input by xfrag_kernel), so the products keep ~22 bits of x; the
// tensor core sums in FP32 and the group's scale multiplies those sums in FP32.
//
// Memory: what bounds a GEMV at batch 1 is how many bytes are in flight per SM
// (bandwidth × latency: ~3 TB/s × ~1.5 µs ≈ 35 KB per SM, more under load).
// Register batches held ~24 warps × 2 KB at most, and half of that while the
// warp computed: 1.3 TB/s measured. So each warp streams its codes (and the
// unit's scales/zeros) through a ring of D shared-memory slots with cp.async,
// D − 1 units always in flight, no registers held.
//
// Work: a block of 8 warps takes "items" of 8/ks row blocks × ks k-splits (the
// splits added up in shared memory, fixed order); the grid is one wave of
// resident blocks, each looping over items, and a warp's copy stream runs on
// across its items, so the pipeline never drains between them.
#include "engines/cuda/int4_kernels_cuda.h"

#include <algorithm>
#include <cstdlib>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/pdl_trigger.cuh"

namespace qbench::cuda {

namespace {

constexpr int kRing = 8;  // slots per warp: 7 units (3.5 KiB of codes) in flight

__device__ __forceinline__ void cp16(void* smem, const void* g) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(g) : "memory");
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// The unit's activation fragments of this lane (zero where its token rows hold no token).
template <int NT>
__device__ __forceinline__ void load_xfrag(const uint4* __restrict__ xf, int u, int lane, int n, uint4 (&xa)[4],
                                           uint4 (&xb)[4]) {
  constexpr int H = NT <= 4 ? 1 : 2;
  const int g = lane >> 2;
  const uint4 zero = make_uint4(0, 0, 0, 0);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint4* p = xf + (int64_t(u) * 4 + i) * H * 32 + lane;
    xa[i] = g < 2 * n ? __ldg(p) : zero;
    xb[i] = (H == 2 && g + 8 < 2 * n) ? __ldg(p + 32) : zero;
  }
}

// Segment of a (global) row block: codes, scales and the row block within the segment.
struct SegPtr {
  const uint4* codes;
  const void* sz;
  int64_t rb;
};
__device__ __forceinline__ SegPtr seg_of(const Int4GemvArgs& a, int64_t rb) {
  // Constant indices only (a run-time index would copy the arguments to local memory).
  SegPtr p{a.seg[0].codes, a.seg[0].sz, rb};
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rb >= a.seg[i - 1].rb_end) p = {a.seg[i].codes, a.seg[i].sz, rb - a.seg[i - 1].rb_end};
  return p;
}

template <int NT, bool HS, bool G1>
__global__ void __launch_bounds__(kInt4GemvWarps * 32, NT <= 4 ? 4 : 2)
    int4_gemv_kernel(const Int4GemvArgs a, int ks, int64_t nitems) {
  pdl_enter();
  __shared__ uint4 ring[kInt4GemvWarps][kRing][32];  // codes of a unit, one 16-byte piece per lane
  __shared__ uint4 szr[kInt4GemvWarps][kRing][4];    // the unit's group's (s, z) of 8 rows (32 or 64 bytes)
  __shared__ float part[kInt4GemvWarps][8][kInt4Rows];
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5;
  const int g = lane >> 2, c = lane & 3;
  const int rbl = wib / ks, kp = wib % ks, rb_per_item = kInt4GemvWarps / ks;
  int64_t total = a.seg[0].rb_end;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg) total = a.seg[i].rb_end;
  const int n = a.n, units = a.units;
  const Int4Groups gr = a.g;
  // Every item gives this warp the same units [u0, u0 + cnt) of its row block.
  const int per = units / ks, rem = units % ks;
  const int u0 = kp * per + min(kp, rem), cnt = per + (kp < rem ? 1 : 0);
  constexpr int kSzPieces = HS ? 2 : 4;  // 16-byte pieces of one group's 8 (s, z)

  // The copy stream: item index and unit offset of the next unit to fetch.
  int64_t ii = blockIdx.x;
  int iu = 0;
  SegPtr is{};
  bool ivalid = false;
  auto next_item = [&]() {
    while (ii < nitems) {
      const int64_t rb = ii * rb_per_item + rbl;
      if (rb < total && cnt > 0) {
        is = seg_of(a, rb);
        ivalid = true;
        return;
      }
      ii += gridDim.x;
    }
    ivalid = false;
  };
  next_item();
  auto issue = [&](int slot) {
    if (ivalid) {
      const int u = u0 + iu;
      cp16(&ring[wib][slot][lane], is.codes + (is.rb * units + u) * 32 + lane);
      if (G1 && lane < kSzPieces) {
        const int64_t e = (is.rb * gr.groups + group_of(u * kInt4Unit, gr)) * kInt4Rows;  // entries (s, z)
        cp16(&szr[wib][slot][lane], static_cast<const uint4*>(sz_base(is.sz, e, HS)) + lane);
      }
      if (++iu == cnt) {
        iu = 0;
        ii += gridDim.x;
        next_item();
      }
    }
    cp_commit();  // an empty group past the end keeps the count uniform
  };
#pragma unroll
  for (int i = 0; i < kRing - 1; ++i) issue(i);
  int islot = kRing - 1, rslot = 0;

  for (int64_t item = blockIdx.x; item < nitems; item += gridDim.x) {  // the same trip count for the whole block
    const int64_t rb = item * rb_per_item + rbl;
    const bool active = rb < total && cnt > 0;
    float acc[4] = {0.f, 0.f, 0.f, 0.f};  // token row g: rows 2c, 2c + 1; token row g + 8 (NT > 4)
    if (active) {
      const SegPtr cs = seg_of(a, rb);
      uint4 xa[4], xb[4];
      load_xfrag<NT>(a.xf, u0, lane, n, xa, xb);
      for (int j = 0; j < cnt; ++j) {
        const int u = u0 + j;
        __syncwarp();  // every lane is done with the slot about to be refilled
        issue(islot);
        islot = islot + 1 == kRing ? 0 : islot + 1;
        cp_wait<kRing - 1>();  // this unit's group has landed (for this lane's copies)
        __syncwarp();          // and for the other lanes' (the scales)
        const uint4 cw = ring[wib][rslot][lane];
        Int4LaneSz s{};
        if constexpr (G1) {
          Int4RawSz<HS> raw;
          raw.from_smem(&szr[wib][rslot][0], g, c);
          s = lane_sz<HS>(raw);
        }
        rslot = rslot + 1 == kRing ? 0 : rslot + 1;
        // The next unit's activations (L1/L2) while this one computes.
        uint4 na[4], nb[4];
        load_xfrag<NT>(a.xf, j + 1 < cnt ? u + 1 : u0, lane, n, na, nb);
        const uint32_t words[4] = {cw.x, cw.y, cw.z, cw.w};
        float d[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int t = 0; t < 8; ++t) {
          if constexpr (!G1) {
            if ((t & gr.tile_mask) == 0) {  // a new scale interval: its group's constants
              Int4RawSz<HS> r;
              r.load(cs.sz, (cs.rb * gr.groups + group_of(u * kInt4Unit + 16 * t, gr)) * kInt4Rows, g, c);
              s = lane_sz<HS>(r);
            }
          }
          const uint32_t w = (t & 1) ? words[t >> 1] >> 8 : words[t >> 1];
          uint32_t b0, b1;
          int4_bfrag(w, s, b0, b1);
          const uint4& A = xa[t >> 1];
          const uint4& B = xb[t >> 1];
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
#pragma unroll
        for (int i = 0; i < 4; ++i) xa[i] = na[i], xb[i] = nb[i];
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
      if (kp == 0 && holder)
        for (int j = 1; j < ks; ++j) {
          acc[0] += part[wib + j][t0][2 * c];
          acc[1] += part[wib + j][t0][2 * c + 1];
          acc[2] += part[wib + j][t0 + 4][2 * c];
          acc[3] += part[wib + j][t0 + 4][2 * c + 1];
        }
      __syncthreads();  // part[] is free for the next item
    }
    if (active && kp == 0 && holder) {
      float* y = a.seg[0].y;
      const float* bias = a.seg[0].bias;
      float* resid = a.seg[0].resid;
      int64_t rows = a.seg[0].rows, lrb = rb;
#pragma unroll
      for (int i = 1; i < kInt4MaxSegments; ++i)
        if (i < a.nseg && rb >= a.seg[i - 1].rb_end) {
          y = a.seg[i].y;
          bias = a.seg[i].bias;
          resid = a.seg[i].resid;
          rows = a.seg[i].rows;
          lrb = rb - a.seg[i - 1].rb_end;
        }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int t = t0 + (i >= 2 ? 4 : 0);
        const int64_t row = lrb * kInt4Rows + 2 * c + (i & 1);
        if (t >= n || row >= rows) continue;
        float v = acc[i];
        if (bias) v += bias[row];
        const int64_t o = int64_t(t) * rows + row;
        y[o] = v;
        if (resid) resid[o] += v;
      }
    }
  }
  cp_wait<0>();
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
#pragma unroll
    for (int q = 0; q < 4; ++q) {  // {tile 2i: k0, k0 + 8; tile 2i + 1: k0 + 16, k0 + 24}
      const int64_t k = k0 + (q & 1) * 8 + (q >> 1) * 16;
      float v[2];
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int64_t j = k + e;
        v[e] = j < in ? xt[perm ? perm[j] : j] : 0.f;
        const __half hv = __float2half_rn(v[e]);
        if (lo) v[e] -= __half2float(hv);
        else v[e] = __half2float(hv);
      }
      const __half2 p = __floats2half2_rn(v[0], v[1]);
      w[q] = *reinterpret_cast<const uint32_t*>(&p);
    }
  }
  xf[i] = make_uint4(w[0], w[1], w[2], w[3]);
}

// Blocks of this kernel the whole GPU holds at once (cached per instantiation).
template <int NT, bool HS, bool G1>
int64_t resident_blocks() {
  static const int64_t n = [] {
    int dev = 0, sms = 0, per_sm = 0;
    QB_CUDA(cudaGetDevice(&dev));
    QB_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    QB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, int4_gemv_kernel<NT, HS, G1>, kInt4GemvWarps * 32, 0));
    return int64_t(std::max(1, sms * per_sm));
  }();
  return n;
}

template <int NT, bool HS, bool G1>
void launch_t(const Int4GemvArgs& a, cudaStream_t s) {
  const int64_t total = a.seg[a.nseg - 1].rb_end;
  // k-splits: as many as keep >= 3 units per warp and item (small items balance the blocks' loops;
  // the copy stream does not drain between items). QBENCH_INT4_KSPLIT=1|2|4|8 forces it (measurements).
  static const int forced = [] {
    const char* e = std::getenv("QBENCH_INT4_KSPLIT");
    const int v = e ? std::atoi(e) : 0;
    return v == 1 || v == 2 || v == 4 || v == 8 ? v : 0;
  }();
  int ks = forced ? forced : 1;
  if (!forced)
    while (ks < kInt4GemvWarps && a.units >= 3 * 2 * ks) ks *= 2;
  while (ks > 1 && ks > a.units) ks /= 2;
  const int64_t per_item = kInt4GemvWarps / ks;
  const int64_t nitems = (total + per_item - 1) / per_item;
  const unsigned blocks = unsigned(std::min(nitems, resident_blocks<NT, HS, G1>()));
  launch_pdl(int4_gemv_kernel<NT, HS, G1>, dim3(blocks), dim3(kInt4GemvWarps * 32), 0, s, a, ks, nitems);
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
