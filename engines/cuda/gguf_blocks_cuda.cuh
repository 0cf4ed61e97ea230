#pragma once
// Per-type device decoding of GGUF blocks in the layout of gguf_layout_cuda.h.
//
// Every type is read in units of 32 weights of one row: unit u is what one lane
// takes per step, with one 16-byte load of code bytes (plus its scales). A unit
// holds two runs of 16 weights, each at 16 consecutive input positions xa / xb
// (multiples of 16) with one scale s and one additive term m:
//   w_i = s · (q_i + kOff) + m,      q_i the stored code (0..63; Q8_0: -128..127).
// The codes come out as packed int8 (four per word) for dp4a.
//
// unit_exact() gives the same 32 weights as float exactly as dequant_ref.cpp
// computes them (same products in the same order; the multiply-add fused as
// the host compiler fuses it): the embedding gather equals the CPU's
// dequantised rows bit for bit.
#include <cuda_fp16.h>

#include <cstdint>

#include "engines/cuda/gguf_layout_cuda.h"

namespace qbench::cuda::gguf {

using quant::GgmlType;

struct Unit {
  int qa[4], qb[4];  // codes of run a / run b, four int8 per word
  float sa, sb;      // scales
  float ma, mb;      // additive terms (0 where the type has none)
};

struct Arrays {
  const uint8_t* a0;
  const uint8_t* a1;
  const uint8_t* a2;
};

// Code offset folded into the scale: w = s * (q + kOff) + m.
template <GgmlType T>
constexpr int kOff = T == GgmlType::Q4_0 ? -8 : T == GgmlType::Q5_0 ? -16 : T == GgmlType::Q6_K ? -32 : 0;
// Types with an additive term m.
template <GgmlType T>
constexpr bool kHasMin = T == GgmlType::Q4_1 || T == GgmlType::Q5_1 || T == GgmlType::Q4_K || T == GgmlType::Q5_K;

__device__ __forceinline__ float h2f(uint32_t bits16) { return __half2float(__ushort_as_half(uint16_t(bits16 & 0xFFFF))); }
__device__ __forceinline__ uint32_t byte_of(uint32_t w, int i) { return (w >> (8 * i)) & 0xFF; }
// Spreads 4 bits into bit 4 of each byte.
__device__ __forceinline__ int spread4(uint32_t h4) { return int(((h4 * 0x00204081u) & 0x01010101u) << 4); }

// The weights are read once per token and never fit in L2: evict-first loads.
__device__ __forceinline__ uint4 ld16(const uint8_t* p) { return __ldcs(reinterpret_cast<const uint4*>(p)); }
__device__ __forceinline__ uint32_t ld4(const uint8_t* p) { return __ldcs(reinterpret_cast<const unsigned int*>(p)); }
__device__ __forceinline__ uint32_t ld2(const uint8_t* p) { return __ldcs(reinterpret_cast<const unsigned short*>(p)); }

// Input positions of the unit's two runs.
template <GgmlType T>
__device__ __forceinline__ void unit_pos(int u, int& xa, int& xb) {
  if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
    const int k = u & 7, j = k >> 1, h = k & 1;
    xa = (u >> 3) * 256 + 64 * j + 16 * h;
    xb = xa + 32;
  } else if constexpr (T == GgmlType::Q6_K) {
    const int k = u & 7, n = k >> 2, b0 = 16 * (k & 3);
    const int base = (u >> 3) * 256 + 128 * n;
    if (b0 < 32) {
      xa = base + b0;
      xb = base + b0 + 64;
    } else {
      xa = base + b0;  // (b0 - 32) + 32
      xb = base + b0 + 64;
    }
  } else {
    xa = 32 * u;
    xb = 32 * u + 16;
  }
}

__device__ __forceinline__ void lo_hi(const uint4& v, int* lo, int* hi) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    lo[i] = int(w[i] & 0x0F0F0F0Fu);
    hi[i] = int((w[i] >> 4) & 0x0F0F0F0Fu);
  }
}

// Exact float of a small non-negative integer (< 2^23) without the quarter-rate I2F.
__device__ __forceinline__ float u2f(uint32_t v) { return __uint_as_float(0x4B000000u | v) - 8388608.f; }

// Scales and mins of sub-blocks 2j and 2j+1 of a Q4_K/Q5_K block whose scale bytes (words s0..s2) were
// repacked on upload (gguf_repack.cpp): one 24-bit group per pair at bit 24j.
__device__ __forceinline__ void scales_k(int j, uint32_t s0, uint32_t s1, uint32_t s2, uint32_t& sa, uint32_t& ma,
                                         uint32_t& sb, uint32_t& mb) {
  const int wi = (3 * j) >> 2, sh = (24 * j) & 31;
  const uint32_t lo = wi == 0 ? s0 : wi == 1 ? s1 : s2;
  const uint32_t hi = wi == 0 ? s1 : s2;
  const uint32_t g = __funnelshift_r(lo, hi, sh);
  sa = g & 63;
  ma = (g >> 6) & 63;
  sb = (g >> 12) & 63;
  mb = (g >> 18) & 63;
}

// Loads and decodes unit u of row `row` (rows of a0/a1/a2 at strides s).
template <GgmlType T>
__device__ __forceinline__ void load_unit(const Arrays& A, const GgufRowStrides& s, int64_t row, int u, Unit& w) {
  const uint8_t* r0 = A.a0 + uint64_t(row) * s.s0;
  if constexpr (T == GgmlType::Q8_0) {
    const uint4 v0 = ld16(r0 + 32 * u), v1 = ld16(r0 + 32 * u + 16);
    w.qa[0] = int(v0.x); w.qa[1] = int(v0.y); w.qa[2] = int(v0.z); w.qa[3] = int(v0.w);
    w.qb[0] = int(v1.x); w.qb[1] = int(v1.y); w.qb[2] = int(v1.z); w.qb[3] = int(v1.w);
    w.sa = w.sb = h2f(ld2(A.a1 + uint64_t(row) * s.s1 + 2 * u));
    w.ma = w.mb = 0.f;
  } else if constexpr (T == GgmlType::Q4_0 || T == GgmlType::Q4_1) {
    lo_hi(ld16(r0 + 16 * u), w.qa, w.qb);
    if constexpr (T == GgmlType::Q4_0) {
      w.sa = w.sb = h2f(ld2(A.a1 + uint64_t(row) * s.s1 + 2 * u));
      w.ma = w.mb = 0.f;
    } else {
      const uint32_t dm = ld4(A.a1 + uint64_t(row) * s.s1 + 4 * u);
      w.sa = w.sb = h2f(dm);
      w.ma = w.mb = h2f(dm >> 16);
    }
  } else if constexpr (T == GgmlType::Q5_0 || T == GgmlType::Q5_1) {
    lo_hi(ld16(r0 + 16 * u), w.qa, w.qb);
    const uint32_t qh = ld4(A.a1 + uint64_t(row) * s.s1 + 4 * u);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      w.qa[i] |= spread4((qh >> (4 * i)) & 0xF);
      w.qb[i] |= spread4((qh >> (16 + 4 * i)) & 0xF);
    }
    if constexpr (T == GgmlType::Q5_0) {
      w.sa = w.sb = h2f(ld2(A.a2 + uint64_t(row) * s.s2 + 2 * u));
      w.ma = w.mb = 0.f;
    } else {
      const uint32_t dm = ld4(A.a2 + uint64_t(row) * s.s2 + 4 * u);
      w.sa = w.sb = h2f(dm);
      w.ma = w.mb = h2f(dm >> 16);
    }
  } else if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
    constexpr int kBytes = T == GgmlType::Q4_K ? 144 : 176;
    constexpr int kQs = T == GgmlType::Q4_K ? 16 : 48;
    const int k = u & 7, j = k >> 1, h = k & 1;
    const uint8_t* blk = r0 + (u >> 3) * kBytes;
    const uint4 hdr = ld16(blk);
    lo_hi(ld16(blk + kQs + 16 * k), w.qa, w.qb);
    if constexpr (T == GgmlType::Q5_K) {
      const uint4 qh4 = ld16(blk + 16 + 16 * h);
      const uint32_t qh[4] = {qh4.x, qh4.y, qh4.z, qh4.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        w.qa[i] |= int(((qh[i] >> (2 * j)) & 0x01010101u) << 4);
        w.qb[i] |= int(((qh[i] >> (2 * j + 1)) & 0x01010101u) << 4);
      }
    }
    const float d = h2f(hdr.x), dmin = h2f(hdr.x >> 16);
    uint32_t sa, ma, sb, mb;
    scales_k(j, hdr.y, hdr.z, hdr.w, sa, ma, sb, mb);
    w.sa = d * u2f(sa);  // the reference's d1 = d * sc, m1 = dmin * m (products of the same floats)
    w.ma = -(dmin * u2f(ma));
    w.sb = d * u2f(sb);
    w.mb = -(dmin * u2f(mb));
  } else if constexpr (T == GgmlType::Q6_K) {
    const int sb = u >> 3, k = u & 7, n = k >> 2, b0 = 16 * (k & 3);
    const uint8_t* blk = r0 + sb * 192;
    const int l0 = b0 < 32 ? b0 : b0 - 32, shift = b0 < 32 ? 0 : 2;
    const uint4 v = ld16(blk + 16 * k);
    const uint4 qh4 = ld16(blk + 128 + 32 * n + l0);
    lo_hi(v, w.qa, w.qb);
    const uint32_t qh[4] = {qh4.x, qh4.y, qh4.z, qh4.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      w.qa[i] |= int(((qh[i] >> shift) & 0x03030303u) << 4);
      w.qb[i] |= int(((qh[i] >> (shift + 4)) & 0x03030303u) << 4);
    }
    const uint4 sc4 = ld16(A.a1 + uint64_t(row) * s.s1 + 16 * sb);
    const float d = h2f(ld2(A.a2 + uint64_t(row) * s.s2 + 2 * sb));
    const int ia = 8 * n + l0 / 16 + shift, ib = ia + 4;  // scale indices 0..15
    const uint32_t scw[4] = {sc4.x, sc4.y, sc4.z, sc4.w};
    uint32_t wa = scw[0], wb = scw[0];
#pragma unroll
    for (int i = 1; i < 4; ++i) {  // constant indices only: no local memory
      if ((ia >> 2) == i) wa = scw[i];
      if ((ib >> 2) == i) wb = scw[i];
    }
    w.sa = d * float(int8_t(byte_of(wa, ia & 3)));
    w.sb = d * float(int8_t(byte_of(wb, ib & 3)));
    w.ma = w.mb = 0.f;
  }
}

// Signed byte i (0..3) of a packed word.
__device__ __forceinline__ int sbyte(int w, int i) { return int(int8_t(uint32_t(w) >> (8 * i))); }

// The unit's 32 weights as float, bit for bit as dequant_ref.cpp: fa[i] at xa + i, fb[i] at xb + i.
template <GgmlType T>
__device__ __forceinline__ void unit_exact(const Unit& w, float* fa, float* fb) {
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const int qa = sbyte(w.qa[i >> 2], i & 3) + kOff<T>, qb = sbyte(w.qb[i >> 2], i & 3) + kOff<T>;
    if constexpr (kHasMin<T>) {
      // Q4_1/Q5_1: q * d + m; K-quants: d1 * q - m1 (ma = -m1). dequant_ref.cpp is compiled as GNU C++ with
      // -march=native, so GCC contracts both into one fused multiply-add (vfmadd/vfmsub): so do we.
      fa[i] = __fmaf_rn(w.sa, float(qa), w.ma);
      fb[i] = __fmaf_rn(w.sb, float(qb), w.mb);
    } else {
      fa[i] = __fmul_rn(w.sa, float(qa));  // Q6_K: (d * sc) * q; others: q * d
      fb[i] = __fmul_rn(w.sb, float(qb));
    }
  }
}

// Sixteen activations quantised to int8 with one scale: d = amax / 127, q = round-half-even(x * 127 / amax).
// quantize_runs_kernel does this once per input (gguf_gemv_cuda.cu); tests replicate it on the host bit for bit
// (id = 127 * (1 / amax), both products rounded; q from one fma with 1.5 * 2^23).
struct XRun {
  int q[4];
  float d;
  int sum;  // sum of the 16 codes
};
constexpr float kInv127 = 1.0f / 127.0f;

__device__ __forceinline__ int pack4(float a, float b, float c, float d) {
  // Low byte of fma(x, id, 1.5 * 2^23)'s bits is the rounded code (two's complement).
  const int p = __byte_perm(__float_as_int(a), __float_as_int(b), 0x0040);
  const int q = __byte_perm(__float_as_int(c), __float_as_int(d), 0x0040);
  return __byte_perm(p, q, 0x5410);
}

constexpr float kCodeMagic = 12582912.f;  // 1.5 * 2^23: fma(x, id, kCodeMagic) rounds x · id into its low byte

// A run's inverse scale id = 127 · (1 / amax) and scale d = amax / 127 (both 0 for an all-zero run).
__device__ __forceinline__ void run_scale(float amax, float& id, float& d) {
  id = 0.f;
  d = 0.f;
  if (amax > 0.f) {
    id = __fmul_rn(127.f, __frcp_rn(amax));
    d = __fmul_rn(amax, kInv127);
  }
}
// The codes of 4 values as one word (4 × int8), and of one value.
__device__ __forceinline__ int code4(float4 v, float id) {
  return pack4(__fmaf_rn(v.x, id, kCodeMagic), __fmaf_rn(v.y, id, kCodeMagic), __fmaf_rn(v.z, id, kCodeMagic),
               __fmaf_rn(v.w, id, kCodeMagic));
}
__device__ __forceinline__ int code1(float v, float id) {
  return int(int8_t(__float_as_int(__fmaf_rn(v, id, kCodeMagic)) & 0xFF));
}

__device__ __forceinline__ XRun quant16(const float* __restrict__ p) {
  const float4* p4 = reinterpret_cast<const float4*>(p);
  float4 v[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) v[i] = __ldg(p4 + i);
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i)
    amax = fmaxf(fmaxf(fmaxf(amax, fabsf(v[i].x)), fmaxf(fabsf(v[i].y), fabsf(v[i].z))), fabsf(v[i].w));
  XRun r;
  float id;
  run_scale(amax, id, r.d);
  r.sum = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    r.q[i] = code4(v[i], id);
    r.sum = __dp4a(r.q[i], 0x01010101, r.sum);
  }
  return r;
}

// quant16 over a run that a quad of lanes holds, 4 values each in order (lane & 3: which 4), for the
// producers that write the runs themselves (half_copy.h, HalfType::GgufQ8): this lane's code word, and
// the run's scale and code sum, equal to quant16's (a maximum and an integer sum do not depend on order).
// All four lanes of the quad must call it together.
__device__ __forceinline__ void quant16_quad(float4 v, int& q, float& d, int& sum) {
  const unsigned mask = 0xFu << (threadIdx.x & 28u);
  float amax = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
  amax = fmaxf(amax, __shfl_xor_sync(mask, amax, 1));
  amax = fmaxf(amax, __shfl_xor_sync(mask, amax, 2));
  float id;
  run_scale(amax, id, d);
  q = code4(v, id);
  sum = __dp4a(q, 0x01010101, 0);
  sum += __shfl_xor_sync(mask, sum, 1);
  sum += __shfl_xor_sync(mask, sum, 2);
}

// quant16 over a run that 16 consecutive lanes hold, one value each in order (lane & 15: which): this
// lane's code, and the run's scale and code sum, equal to quant16's. All 16 lanes must call it together.
__device__ __forceinline__ void quant16_lanes(float v, int& q, float& d, int& sum) {
  const unsigned mask = 0xFFFFu << (threadIdx.x & 16u);
  float amax = fabsf(v);
#pragma unroll
  for (int o = 1; o < 16; o <<= 1) amax = fmaxf(amax, __shfl_xor_sync(mask, amax, o));
  float id;
  run_scale(amax, id, d);
  q = code1(v, id);
  sum = q;
#pragma unroll
  for (int o = 1; o < 16; o <<= 1) sum += __shfl_xor_sync(mask, sum, o);
}

// The same run as quant16 wrote it to memory (quantize_runs_kernel): 16 codes, then (d bits, sum) per run.
__device__ __forceinline__ XRun load_xrun(const int8_t* __restrict__ xq, const int2* __restrict__ xs, int64_t off) {
  const uint4 q = __ldg(reinterpret_cast<const uint4*>(xq + off));
  const int2 m = __ldg(xs + off / 16);
  XRun r;
  r.q[0] = int(q.x);
  r.q[1] = int(q.y);
  r.q[2] = int(q.z);
  r.q[3] = int(q.w);
  r.d = __int_as_float(m.x);
  r.sum = m.y;
  return r;
}

// Exact small-integer to float (|v| < 2^22) without the quarter-rate I2F.
__device__ __forceinline__ float i2f(int v) { return __int_as_float(0x4B400000 + v) - 12582912.f; }

// Contribution of one unit of one row to one token: sum over both runs of d_x * (s * (dot + kOff * sum) + m * sum).
template <GgmlType T>
__device__ __forceinline__ float unit_dot(const Unit& w, const XRun& xa, const XRun& xb) {
  int da = 0, db = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    da = __dp4a(w.qa[i], xa.q[i], da);
    db = __dp4a(w.qb[i], xb.q[i], db);
  }
  if constexpr (kOff<T> != 0) {
    da += kOff<T> * xa.sum;
    db += kOff<T> * xb.sum;
  }
  float ra = w.sa * i2f(da), rb = w.sb * i2f(db);
  if constexpr (kHasMin<T>) {
    ra = fmaf(w.ma, i2f(xa.sum), ra);
    rb = fmaf(w.mb, i2f(xb.sum), rb);
  }
  return fmaf(xa.d, ra, xb.d * rb);
}

}  // namespace qbench::cuda::gguf
