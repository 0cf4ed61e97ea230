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

// Where a code lies (int4_kernels_cuda.h): nibble p of lane (g, c)'s word for tile t of a unit is row
// g + 8·(p & 1) of the row block and input 16·t + 2c + ((p >> 2) & 1) + 8·((p >> 1) & 1) of the unit ...
__host__ __device__ __forceinline__ int int4_code_row(int p, int g) { return g + 8 * (p & 1); }
__host__ __device__ __forceinline__ int int4_code_input(int t, int p, int c) {
  return 16 * t + 2 * c + ((p >> 2) & 1) + 8 * ((p >> 1) & 1);
}
// ... and back: input k (0..127) of row r (0..15) of a row block → lane, word (= tile, 0..7) and nibble.
struct Int4CodePos {
  int lane, word, nibble;
};
__host__ __device__ __forceinline__ Int4CodePos int4_code_pos(int r, int k) {
  const int r16 = k & 15;
  return {4 * (r & 7) + ((r16 & 7) >> 1), k >> 4, ((r16 & 1) << 2) | ((r16 >> 3) << 1) | (r >> 3)};
}
// The uint32 holding word `word` of `lane` for (row block rb, unit u).
__host__ __device__ __forceinline__ int64_t int4_word_index(int64_t rb, int units, int u, int lane, int word) {
  return ((rb * units + u) * kInt4UnitVecs + (word >> 2) * 32 + lane) * 4 + (word & 3);
}

// Scale and zero of row r of a row block for one group: sz + (rb · groups + group) · 16 + r entries.
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

// What one lane (g, c) needs of a group: the FP16 constants that turn its codes into q − z exactly (row g's
// codes come out as 1024 + q, row g + 8's as 1024 + 16·q), and the scales of rows g and g + 8.
struct Int4LaneSz {
  uint32_t zlo;  // half2 (1024 + z) of row g
  uint32_t zhi;  // half2 −(64 + z) of row g + 8
  float s0, s1;  // scales of rows g, g + 8
};
template <bool HS>
struct Int4RawSz;
template <>
struct Int4RawSz<true> {
  uint32_t lo, hi;  // half2 (s, z) of rows g, g + 8
  __device__ __forceinline__ void load(const void* base, int64_t e, int g) {
    lo = __ldcs(static_cast<const unsigned int*>(base) + e + g);
    hi = __ldcs(static_cast<const unsigned int*>(base) + e + g + 8);
  }
  __device__ __forceinline__ float2 row_g() const { return __half22float2(*reinterpret_cast<const __half2*>(&lo)); }
  __device__ __forceinline__ float2 row_g8() const { return __half22float2(*reinterpret_cast<const __half2*>(&hi)); }
};
template <>
struct Int4RawSz<false> {
  float2 lo, hi;
  __device__ __forceinline__ void load(const void* base, int64_t e, int g) {
    lo = __ldcs(static_cast<const float2*>(base) + e + g);
    hi = __ldcs(static_cast<const float2*>(base) + e + g + 8);
  }
  __device__ __forceinline__ float2 row_g() const { return lo; }
  __device__ __forceinline__ float2 row_g8() const { return hi; }
};
template <bool HS>
__device__ __forceinline__ Int4LaneSz lane_sz(const Int4RawSz<HS>& r) {
  const float2 a = r.row_g(), b = r.row_g8();
  const __half2 lo = __float2half2_rn(1024.f + a.y), hi = __float2half2_rn(-(64.f + b.y));
  return {*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi), a.x, b.x};
}

// The A fragment of one tile (q − z as FP16, exact) from the lane's code word: nibbles (0,4) row g, inputs
// 2c, 2c+1; (1,5) row g + 8; (2,6) and (3,7) the same rows at inputs 2c + 8, 2c + 9 (mma.cuh's A layout).
__device__ __forceinline__ void int4_afrag(uint32_t w, const Int4LaneSz& z, uint32_t (&a)[4]) {
  const __half2 sixteenth = __float2half2_rn(0.0625f);
  const uint32_t w8 = w >> 8;
  const uint32_t q0 = lop3_and_or(w, 0x000F000Fu, 0x64006400u);   // 1024 + q, row g
  const uint32_t q1 = lop3_and_or(w, 0x00F000F0u, 0x64006400u);   // 1024 + 16 q, row g + 8
  const uint32_t q2 = lop3_and_or(w8, 0x000F000Fu, 0x64006400u);  // row g, inputs + 8
  const uint32_t q3 = lop3_and_or(w8, 0x00F000F0u, 0x64006400u);  // row g + 8, inputs + 8
  const __half2 zl = *reinterpret_cast<const __half2*>(&z.zlo), zh = *reinterpret_cast<const __half2*>(&z.zhi);
  const __half2 r0 = __hsub2(*reinterpret_cast<const __half2*>(&q0), zl);
  const __half2 r1 = __hfma2(*reinterpret_cast<const __half2*>(&q1), sixteenth, zh);
  const __half2 r2 = __hsub2(*reinterpret_cast<const __half2*>(&q2), zl);
  const __half2 r3 = __hfma2(*reinterpret_cast<const __half2*>(&q3), sixteenth, zh);
  a[0] = *reinterpret_cast<const uint32_t*>(&r0);
  a[1] = *reinterpret_cast<const uint32_t*>(&r1);
  a[2] = *reinterpret_cast<const uint32_t*>(&r2);
  a[3] = *reinterpret_cast<const uint32_t*>(&r3);
}

}  // namespace qbench::cuda
