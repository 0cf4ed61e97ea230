#pragma once
// Where an activation lands in the int4 GEMV's fragment layout (int4_kernels_cuda.h, "activations"), for
// the producers of x (RMSNorm, SiLU·mul, the attention's combine pass) that write the fragments when the
// GEMV folded them into them (half_copy.h, HalfType::Int4Frag): a scatter from the input's position.
// Inputs in natural order: the folded path serves matrices without act-order permutation or padding only.
// launch_int4_xfrag's kernel walks the same layout from the other side (a gather per fragment word, with
// the permutation and padding); the fold tests hold the two equal bit for bit.
// Include from CUDA sources only.
#include <cuda_fp16.h>

#include <cstdint>

#include "engines/cuda/int4_kernels_cuda.h"
#include "engines/cuda/mma.cuh"

namespace qbench::cuda {

// The 32-bit word of the fragments that holds inputs (k, k + 1) of one token column, k even: tile pair
// k / 32 of the buffer, half h, lane 4·gcol + c, word q. gcol: the column within half h.
__host__ __device__ __forceinline__ int64_t int4_xfrag_word(int64_t k, int halves, int h, int gcol) {
  const int r = int(k & 31);
  const int q = ((r >> 4) << 1) | ((r >> 3) & 1), c = (r & 7) >> 1;
  return (((k >> 5) * halves + h) * 32 + 4 * gcol + c) * 4 + q;
}

// Writes inputs (k, k + 1) of token t (k even) into the fragments xf: FP16(x) in column 2t, the remainder
// x − FP16(x) in column 2t + 1.
__device__ __forceinline__ void int4_xfrag_store2(uint32_t* xf, int halves, int t, int64_t k, float a, float b) {
  uint32_t hi, lo;
  split_half2(a, b, hi, lo);
  const int h = t >> 2, gcol = 2 * t - 8 * h;
  xf[int4_xfrag_word(k, halves, h, gcol)] = hi;
  xf[int4_xfrag_word(k, halves, h, gcol + 1)] = lo;
}
// One input k (either parity) of token t: two 16-bit stores.
__device__ __forceinline__ void int4_xfrag_store1(uint32_t* xf, int halves, int t, int64_t k, float v) {
  __half hi, lo;
  split_half(v, hi, lo);
  const int h = t >> 2, gcol = 2 * t - 8 * h;
  auto* p = reinterpret_cast<__half*>(xf);
  p[2 * int4_xfrag_word(k & ~int64_t(1), halves, h, gcol) + (k & 1)] = hi;
  p[2 * int4_xfrag_word(k & ~int64_t(1), halves, h, gcol + 1) + (k & 1)] = lo;
}
// The zero fragment after the fragments of `row` inputs (a multiple of kInt4Unit).
__device__ __forceinline__ void int4_xfrag_zero(uint32_t* xf, int halves, int64_t row) {
  reinterpret_cast<uint4*>(xf)[row / kInt4Unit * 4 * halves * 32] = make_uint4(0, 0, 0, 0);
}

}  // namespace qbench::cuda
