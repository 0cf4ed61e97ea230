// GGUF blocks to FP16 (prefill: the scratch cuBLAS multiplies) and to float
// rows (the embedding lookup), one thread per unit of 32 weights, with the
// reference's arithmetic (gguf_blocks_cuda.cuh: unit_exact).
#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/gguf_blocks_cuda.cuh"
#include "engines/cuda/gguf_kernels_cuda.h"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

using namespace gguf;
constexpr int kThreads = 256;

// 16 consecutive values, as FP16 (the prefill GEMM's W tiles) or float (gather_rows).
__device__ __forceinline__ void store16(__half* dst, const float* f) {
  uint4 v[2];
  __half2* h = reinterpret_cast<__half2*>(v);
#pragma unroll
  for (int i = 0; i < 8; ++i) h[i] = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
  uint4* d = reinterpret_cast<uint4*>(dst);
  d[0] = v[0];
  d[1] = v[1];
}
__device__ __forceinline__ void store16(float* dst, const float* f) {
  float4* d = reinterpret_cast<float4*>(dst);
#pragma unroll
  for (int i = 0; i < 4; ++i) d[i] = make_float4(f[4 * i], f[4 * i + 1], f[4 * i + 2], f[4 * i + 3]);
}

// out[r][:] = row (ids ? ids[r] : r) of W, exactly, for r < n: a thread per 32-weight unit.
template <GgmlType T, class Out>
__global__ void __launch_bounds__(kThreads) unpack_rows_kernel(Arrays A, int64_t in, const int32_t* __restrict__ ids,
                                                               int64_t n, Out* __restrict__ out) {
  pdl_enter();
  const int64_t units = in / 32;
  const int64_t idx = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= n * units) return;
  const int64_t r = idx / units;
  const int u = int(idx % units);
  Unit w;
  load_unit<T>(A, gguf_row_strides(T, in), ids ? ids[r] : r, u, w);
  float fa[16], fb[16];
  unit_exact<T>(w, fa, fb);
  int xa, xb;
  unit_pos<T>(u, xa, xb);
  store16(out + r * in + xa, fa);
  store16(out + r * in + xb, fb);
}

template <GgmlType T, class Out>
void unpack_t(const Arrays& A, int64_t in, const int32_t* ids, int64_t n, Out* out, cudaStream_t s) {
  const int64_t threads = n * (in / 32);
  launch_pdl(unpack_rows_kernel<T, Out>, unsigned((threads + kThreads - 1) / kThreads), kThreads, 0, s, A, in, ids, n,
             out);
  QB_CUDA_LAUNCH(ids ? "gguf gather_rows" : "gguf dequant f16");
}

#define QB_GGUF_DISPATCH(t, F, ...)                                                       \
  switch (t) {                                                                            \
    case GgmlType::Q8_0: return F<GgmlType::Q8_0>(__VA_ARGS__);                           \
    case GgmlType::Q4_0: return F<GgmlType::Q4_0>(__VA_ARGS__);                           \
    case GgmlType::Q4_1: return F<GgmlType::Q4_1>(__VA_ARGS__);                           \
    case GgmlType::Q5_0: return F<GgmlType::Q5_0>(__VA_ARGS__);                           \
    case GgmlType::Q5_1: return F<GgmlType::Q5_1>(__VA_ARGS__);                           \
    case GgmlType::Q4_K: return F<GgmlType::Q4_K>(__VA_ARGS__);                           \
    case GgmlType::Q5_K: return F<GgmlType::Q5_K>(__VA_ARGS__);                           \
    case GgmlType::Q6_K: return F<GgmlType::Q6_K>(__VA_ARGS__);                           \
    default: throw Error(std::string("GGUF type ") + quant::type_name(t) + " has no CUDA kernel"); \
  }

}  // namespace

void launch_gguf_dequant_f16(quant::GgmlType t, const uint8_t* a0, const uint8_t* a1, const uint8_t* a2, int64_t in,
                             int64_t rows, __half* w16, cudaStream_t s) {
  const Arrays A{a0, a1, a2};
  QB_GGUF_DISPATCH(t, unpack_t, A, in, nullptr, rows, w16, s)
}

void launch_gguf_gather(quant::GgmlType t, const uint8_t* a0, const uint8_t* a1, const uint8_t* a2, int64_t in,
                        const int32_t* ids, int64_t n, float* out, cudaStream_t s) {
  const Arrays A{a0, a1, a2};
  QB_GGUF_DISPATCH(t, unpack_t, A, in, ids, n, out, s)
}

}  // namespace qbench::cuda
