// Decode GEMV over the int4 device layout (int4_kernels_cuda.h).
//
// A warp owns one row block (4 output rows) and a range of units; per unit each
// lane makes one 16-byte evict-first load (one code word of each of the 4 rows,
// the same 8 inputs) and one 16-byte load of the 4 rows' (scale, zero). Codes
// become floats in registers exactly: OR-ing a nibble into the mantissa of
// 2^23 gives 2^23 + q·16^p, and one FMA with the constants 16^-p and −2^(23−4p)
// leaves q. With Σx over the lane's 8 inputs (shared by the 4 rows),
//   Σ w·x = s · (Σ q·x − z · Σ x),   FP32 throughout.
// Every weight byte is read once for all n tokens. For few row blocks (q/k/v,
// o, down) the warps of a block split the units of one row block (split-K) and
// add up through shared memory.
#include "engines/cuda/int4_kernels_cuda.h"

#include <algorithm>
#include <cstdlib>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/int4_device.cuh"

namespace qbench::cuda {

namespace {

// Units staged per lane in shared memory (cp.async, one ring of D slots per thread): each lane copies, and
// later reads, only its own 16-byte pieces (codes, scale/zero, and at one token its 8 activations), so no
// barrier is needed and D − 1 units stay in flight without holding registers.
template <int NT, bool HS>
constexpr int kStageWords = 1 + (HS ? 1 : 2) + (NT == 1 ? 2 : 0);
template <int NT, bool HS>
constexpr int kStages = kStageWords<NT, HS> >= 4 ? (kStageWords<NT, HS> == 4 ? 5 : 4) : 6;  // <= 40 KiB a block

__device__ __forceinline__ void cp16(void* smem, const void* g) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(g) : "memory");
}
// L1-allocating (activations are read by every warp); zero-filled when !valid.
__device__ __forceinline__ void cp16_ca(void* smem, const void* g, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(g), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

template <int NT>
__device__ __forceinline__ void load_x(const Int4GemvArgs& a, int64_t k0, int n, float (&xv)[NT][8]) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t < n && k0 < a.kvalid) {
      const float4 xa = __ldg(reinterpret_cast<const float4*>(a.x + t * a.xs + k0));
      const float4 xb = __ldg(reinterpret_cast<const float4*>(a.x + t * a.xs + k0 + 4));
      xv[t][0] = xa.x, xv[t][1] = xa.y, xv[t][2] = xa.z, xv[t][3] = xa.w;
      xv[t][4] = xb.x, xv[t][5] = xb.y, xv[t][6] = xb.z, xv[t][7] = xb.w;
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) xv[t][j] = 0.f;
    }
  }
}

// One unit of one lane: 8 inputs × 4 rows × n tokens into acc.
template <int NT, bool HS>
__device__ __forceinline__ void unit_core(const uint4& c, const SZ<HS>& s, const float (&xv)[NT][8], int n,
                                          float (&acc)[4][NT]) {
  float sx[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    sx[t] = ((xv[t][0] + xv[t][1]) + (xv[t][2] + xv[t][3])) + ((xv[t][4] + xv[t][5]) + (xv[t][6] + xv[t][7]));
  float sc[4], zc[4];
  s.get(sc, zc);
  const uint32_t words[4] = {c.x, c.y, c.z, c.w};
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    float q[8];
    decode8(words[r], q);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t < n) {
        float d = q[0] * xv[t][0];
#pragma unroll
        for (int j = 1; j < 8; ++j) d = __fmaf_rn(q[j], xv[t][j], d);
        acc[r][t] = __fmaf_rn(sc[r], __fmaf_rn(-zc[r], sx[t], d), acc[r][t]);
      }
    }
  }
}

template <int NT, bool HS>
__global__ void __launch_bounds__(kInt4GemvWarps * 32, NT == 1 && HS ? 4 : 1) int4_gemv_kernel(const Int4GemvArgs a, int ks) {
  __shared__ float part[kInt4GemvWarps][4][NT];
  __shared__ uint4 stage[kStages<NT, HS>][kStageWords<NT, HS>][kInt4GemvWarps * 32];
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5;
  const int rbl = wib / ks, kp = wib % ks;
  int64_t rb = int64_t(blockIdx.x) * (kInt4GemvWarps / ks) + rbl;
  int64_t total = a.seg[0].rb_end;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg) total = a.seg[i].rb_end;
  const bool active = rb < total;
  // The segment, with constant indices only (a run-time index would copy the arguments to local memory).
  const uint4* codes = a.seg[0].codes;
  const void* sz = a.seg[0].sz;
  float* y = a.seg[0].y;
  const float* bias = a.seg[0].bias;
  float* resid = a.seg[0].resid;
  int64_t rows = a.seg[0].rows, base = 0;
#pragma unroll
  for (int i = 1; i < kInt4MaxSegments; ++i)
    if (i < a.nseg && rb >= a.seg[i - 1].rb_end) {
      codes = a.seg[i].codes;
      sz = a.seg[i].sz;
      y = a.seg[i].y;
      bias = a.seg[i].bias;
      resid = a.seg[i].resid;
      rows = a.seg[i].rows;
      base = a.seg[i - 1].rb_end;
    }
  rb -= base;
  const int n = a.n;
  const int units = a.units;

  float acc[4][NT];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.f;

  if (active) {
    const int per = units / ks, rem = units % ks;
    const int u0 = kp * per + min(kp, rem), u1 = u0 + per + (kp < rem ? 1 : 0);
    const uint4* cp = codes + rb * units * 32 + lane;
    const int64_t szrow = rb * a.g.groups;
    constexpr int D = kStages<NT, HS>, W = kStageWords<NT, HS>;
    const int tid = threadIdx.x;
    auto issue = [&](int u, int slot) {
      if (u < u1) {
        const int k0 = u * kInt4Unit + lane * 8;
        cp16(&stage[slot][0][tid], cp + int64_t(u) * 32);
        const int64_t si = szrow + group_of(k0, a.g);
        if constexpr (HS) {
          cp16(&stage[slot][1][tid], static_cast<const uint4*>(sz) + si);
        } else {
          cp16(&stage[slot][1][tid], static_cast<const uint4*>(sz) + 2 * si);
          cp16(&stage[slot][2][tid], static_cast<const uint4*>(sz) + 2 * si + 1);
        }
        if constexpr (NT == 1) {
          const bool ok = k0 < a.kvalid;
          cp16_ca(&stage[slot][W - 2][tid], ok ? a.x + k0 : a.x, ok);
          cp16_ca(&stage[slot][W - 1][tid], ok ? a.x + k0 + 4 : a.x, ok);
        }
      }
      cp_commit();  // an empty group past the end keeps the count uniform
    };
    int islot = 0, rslot = 0;
#pragma unroll
    for (int i = 0; i < D - 1; ++i) {
      issue(u0 + i, islot);
      islot = islot + 1 == D ? 0 : islot + 1;
    }
    for (int u = u0; u < u1; ++u) {
      issue(u + D - 1, islot);  // refills the slot read one iteration ago
      islot = islot + 1 == D ? 0 : islot + 1;
      cp_wait<D - 1>();  // unit u's group has landed
      const uint4 c = stage[rslot][0][tid];
      SZ<HS> s;
      if constexpr (HS) {
        s.v = stage[rslot][1][tid];
      } else {
        s.a = *reinterpret_cast<const float4*>(&stage[rslot][1][tid]);
        s.b = *reinterpret_cast<const float4*>(&stage[rslot][2][tid]);
      }
      float xv[NT][8];
      if constexpr (NT == 1) {
        const float4 xa = *reinterpret_cast<const float4*>(&stage[rslot][W - 2][tid]);
        const float4 xb = *reinterpret_cast<const float4*>(&stage[rslot][W - 1][tid]);
        xv[0][0] = xa.x, xv[0][1] = xa.y, xv[0][2] = xa.z, xv[0][3] = xa.w;
        xv[0][4] = xb.x, xv[0][5] = xb.y, xv[0][6] = xb.z, xv[0][7] = xb.w;
      } else {
        load_x<NT>(a, int64_t(u) * kInt4Unit + lane * 8, n, xv);
      }
      unit_core<NT, HS>(c, s, xv, n, acc);
      rslot = rslot + 1 == D ? 0 : rslot + 1;
    }
    cp_wait<0>();
  }

#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t)
      if (t < n) acc[r][t] = warp_sum(acc[r][t]);

  // Lane r·NT + t writes row r, token t.
  const int mr = lane / NT, mt = lane % NT;
  float v = 0.f;
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t)
      if (mr == r && mt == t) v = acc[r][t];
  const bool mine = lane < 4 * NT && mt < n;
  if (ks > 1) {
    if (mine) part[wib][mr][mt] = v;
    __syncthreads();
    if (kp != 0) return;
    if (mine)
      for (int j = 1; j < ks; ++j) v += part[wib + j][mr][mt];
  }
  if (!active || !mine) return;
  const int64_t row = rb * 4 + mr;
  if (row >= rows) return;
  const int64_t i = int64_t(mt) * rows + row;
  if (bias) v += bias[row];
  y[i] = v;
  if (resid) resid[i] += v;
}

// Blocks of this kernel the whole GPU holds at once (cached per instantiation).
template <int NT, bool HS>
int64_t resident_blocks() {
  static const int64_t n = [] {
    int dev = 0, sms = 0, per_sm = 0;
    QB_CUDA(cudaGetDevice(&dev));
    QB_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    QB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, int4_gemv_kernel<NT, HS>, kInt4GemvWarps * 32, 0));
    return int64_t(std::max(1, sms * per_sm));
  }();
  return n;
}

template <int NT, bool HS>
void launch_t(const Int4GemvArgs& a, cudaStream_t s) {
  const int64_t total = a.seg[a.nseg - 1].rb_end;
  // Split a row block's units over 2 or 4 warps (one block, added up in shared memory) as long as all
  // blocks still fit on the GPU at once: few row blocks (q/k/v, o, down) then keep every SM busy
  // without a second, mostly empty wave.
  // QBENCH_INT4_KSPLIT=1|2|4 forces the split (measurements).
  static const int forced = [] {
    const char* e = std::getenv("QBENCH_INT4_KSPLIT");
    const int v = e ? std::atoi(e) : 0;
    return v == 1 || v == 2 || v == 4 ? v : 0;
  }();
  const int64_t cap = resident_blocks<NT, HS>();
  int ks = 1;
  if (forced) {
    ks = forced;
    while (ks > 1 && ks > a.units) ks /= 2;
  } else {
    for (int k : {4, 2})
      if (k <= a.units && (total * k + kInt4GemvWarps - 1) / kInt4GemvWarps <= cap) {
        ks = k;
        break;
      }
  }
  const int64_t per_block = kInt4GemvWarps / ks;
  const unsigned blocks = unsigned((total + per_block - 1) / per_block);
  int4_gemv_kernel<NT, HS><<<blocks, kInt4GemvWarps * 32, 0, s>>>(a, ks);
}

template <int NT>
void launch_nt(const Int4GemvArgs& a, bool hs, cudaStream_t s) {
  if (hs) launch_t<NT, true>(a, s);
  else launch_t<NT, false>(a, s);
}

}  // namespace

void launch_int4_gemv(const Int4GemvArgs& a, bool half_scales, cudaStream_t s) {
  if (a.n == 1) launch_nt<1>(a, half_scales, s);
  else if (a.n <= 4) launch_nt<4>(a, half_scales, s);
  else launch_nt<8>(a, half_scales, s);
  QB_CUDA_LAUNCH("int4 gemv");
}

}  // namespace qbench::cuda
