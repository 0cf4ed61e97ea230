#pragma once
// Device side of half_copy.h's folds: a producer of x stores each value it writes also in the form its
// consumer asked for (HalfOut): a 16-bit copy, the int4 GEMV's activation fragments, or the GGUF GEMV's
// int8 runs. Element indices are into x [tokens, row] as a flat array.
// Include from CUDA sources only.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "engines/cuda/device_math.cuh"
#include "engines/cuda/gguf_blocks_cuda.cuh"
#include "engines/cuda/half_copy.h"
#include "engines/cuda/int4_xfrag.cuh"

namespace qbench::cuda {

// Values 4i .. 4i + 3. GgufQ8 only from producers offering kCapsVec4 (every lane quad holds one run).
__device__ __forceinline__ void store_half4(const HalfOut& h, int64_t i, float4 v) {
  if (h.type == HalfType::F16) store4(static_cast<__half*>(h.p), i, v);
  else if (h.type == HalfType::BF16) store4(static_cast<__nv_bfloat16*>(h.p), i, v);
  else if (h.type == HalfType::Int4Frag) {
    auto* xf = static_cast<uint32_t*>(h.p);
    const int64_t e = 4 * i, t = e / h.row, k = e - t * h.row;  // row % 128 == 0: one token
    int4_xfrag_store2(xf, h.halves, int(t), k, v.x, v.y);
    int4_xfrag_store2(xf, h.halves, int(t), k + 2, v.z, v.w);
    if (i == 0) int4_xfrag_zero(xf, h.halves, h.row);
  } else if (h.type == HalfType::GgufQ8) {
    int q, sum;
    float d;
    gguf::quant16_quad(v, q, d, sum);
    static_cast<int*>(h.p)[i] = q;
    if ((i & 3) == 0) static_cast<int2*>(h.p2)[i >> 2] = make_int2(__float_as_int(d), sum);
  }
}

// Value i. GgufQ8 only from producers offering kCapGgufQ8 with single values: every 16 consecutive lanes
// hold one run.
__device__ __forceinline__ void store_half1(const HalfOut& h, int64_t i, float v) {
  if (h.type == HalfType::F16) static_cast<__half*>(h.p)[i] = from_f32<__half>(v);
  else if (h.type == HalfType::BF16) static_cast<__nv_bfloat16*>(h.p)[i] = from_f32<__nv_bfloat16>(v);
  else if (h.type == HalfType::Int4Frag) {
    auto* xf = static_cast<uint32_t*>(h.p);
    const int64_t t = i / h.row;
    int4_xfrag_store1(xf, h.halves, int(t), i - t * h.row, v);
    if (i == 0) int4_xfrag_zero(xf, h.halves, h.row);
  } else if (h.type == HalfType::GgufQ8) {
    int q, sum;
    float d;
    gguf::quant16_lanes(v, q, d, sum);
    static_cast<int8_t*>(h.p)[i] = int8_t(q);
    if ((i & 15) == 0) static_cast<int2*>(h.p2)[i >> 4] = make_int2(__float_as_int(d), sum);
  }
}

}  // namespace qbench::cuda
