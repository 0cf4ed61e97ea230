#pragma once
// Device helpers shared by the int4 kernels (int4_kernels_cuda.h has the layout).
#include <cuda_fp16.h>

#include <cstdint>

#include "engines/cuda/int4_kernels_cuda.h"
#include "engines/cuda/mma.cuh"

namespace qbench::cuda {

__device__ __forceinline__ int group_of(int k, const Int4Groups& g) {
  const int i = g.gshift >= 0 ? (k >> g.gshift) : (k / g.gsize);
  return i < g.groups ? i : g.groups - 1;
}

// Where a code lies: input (within its unit) of nibble p of word i of a lane with c = lane % 4 ...
__host__ __device__ __forceinline__ int int4_code_input(int i, int p, int c) {
  return 16 * (2 * i + ((p >> 1) & 1)) + 2 * c + (p >> 2) + 8 * (p & 1);
}
// ... and back: input k (0..127) of row r of a row block → lane, word and nibble.
struct Int4CodePos {
  int lane, word, nibble;
};
__host__ __device__ __forceinline__ Int4CodePos int4_code_pos(int r, int k) {
  const int t = k >> 4, r16 = k & 15;
  const int c = (r16 & 7) >> 1;
  return {4 * r + c, t >> 1, ((r16 & 1) << 2) | ((t & 1) << 1) | (r16 >> 3)};
}

// Scale and zero of row r of a row block for one group: sz + (rb · groups + group) · 8 + r entries.
__device__ __forceinline__ float2 int4_sz(const void* sz, bool hs, int64_t entry) {
  if (hs) return __half22float2(static_cast<const __half2*>(sz)[entry]);
  return static_cast<const float2*>(sz)[entry];
}

// (a & b) | c in one instruction.
__device__ __forceinline__ uint32_t lop3_and_or(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

// What one lane needs of a group: the FP16 constants that turn its row's codes into q − z, exactly, and
// the scales of the two output rows (2c, 2c + 1) its accumulators hold.
struct Int4LaneSz {
  uint32_t zlo, zhi;  // half2 (1024 + z), half2 −(64 + z)
  float s0, s1;
};
template <bool HS>
struct Int4RawSz;
template <>
struct Int4RawSz<true> {
  uint32_t z;  // half2 (s, z) of row g
  uint2 s;     // half2 (s, z) of rows 2c, 2c + 1
  __device__ __forceinline__ void load(const void* base, int64_t e, int g, int c) {
    z = __ldcs(static_cast<const unsigned int*>(base) + e + g);
    s = __ldcs(reinterpret_cast<const uint2*>(static_cast<const uint32_t*>(base) + e + 2 * c));
  }
  __device__ __forceinline__ float zero() const { return __high2float(*reinterpret_cast<const __half2*>(&z)); }
  __device__ __forceinline__ float scale0() const { return __low2float(*reinterpret_cast<const __half2*>(&s.x)); }
  __device__ __forceinline__ float scale1() const { return __low2float(*reinterpret_cast<const __half2*>(&s.y)); }
};
template <>
struct Int4RawSz<false> {
  float2 z;
  float4 s;
  __device__ __forceinline__ void load(const void* base, int64_t e, int g, int c) {
    z = __ldcs(static_cast<const float2*>(base) + e + g);
    s = __ldcs(reinterpret_cast<const float4*>(static_cast<const float2*>(base) + e + 2 * c));
  }
  __device__ __forceinline__ float zero() const { return z.y; }
  __device__ __forceinline__ float scale0() const { return s.x; }
  __device__ __forceinline__ float scale1() const { return s.z; }
};
template <bool HS>
__device__ __forceinline__ Int4LaneSz lane_sz(const Int4RawSz<HS>& r) {
  const float z = r.zero();
  const __half2 lo = __float2half2_rn(1024.f + z), hi = __float2half2_rn(-(64.f + z));
  return {*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi), r.scale0(), r.scale1()};
}

// The B fragment of one tile (q − z as FP16, exact): w holds the tile's codes in nibbles (0,4) and (1,5).
__device__ __forceinline__ void int4_bfrag(uint32_t w, const Int4LaneSz& z, uint32_t& b0, uint32_t& b1) {
  const uint32_t lo = lop3_and_or(w, 0x000F000Fu, 0x64006400u);  // 1024 + q
  const uint32_t hi = lop3_and_or(w, 0x00F000F0u, 0x64006400u);  // 1024 + 16 q
  const __half2 r0 = __hsub2(*reinterpret_cast<const __half2*>(&lo), *reinterpret_cast<const __half2*>(&z.zlo));
  const __half2 r1 = __hfma2(*reinterpret_cast<const __half2*>(&hi), __float2half2_rn(0.0625f),
                             *reinterpret_cast<const __half2*>(&z.zhi));
  b0 = *reinterpret_cast<const uint32_t*>(&r0);
  b1 = *reinterpret_cast<const uint32_t*>(&r1);
}

}  // namespace qbench::cuda
