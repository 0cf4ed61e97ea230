// The int4 kernels around the GEMV: activation permutation (act-order) and
// padding, FP16 dequantisation of row tiles for the prefill GEMM, the
// embedding gather, and the upload repack from the CPU layout.
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/int4_kernels_cuda.h"

namespace qbench::cuda {

namespace {

unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

template <class T>
__global__ void permute_kernel(const float* __restrict__ x, const int32_t* __restrict__ perm, int64_t n, int64_t in,
                               int64_t in_pad, T* __restrict__ out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * in_pad) return;
  const int64_t t = i / in_pad, j = i % in_pad;
  float v = 0.f;
  if (j < in) v = x[t * in + (perm ? perm[j] : j)];
  if constexpr (sizeof(T) == 2) out[i] = __float2half_rn(v);
  else out[i] = v;
}

// One thread per (row block, unit, lane): 4 rows × 8 inputs → 4 × 16 bytes of FP16.
template <bool HS>
__global__ void dequant_kernel(const uint4* __restrict__ codes, const void* __restrict__ sz, int units, Int4Groups g,
                               int64_t rb0, int64_t nrb, int64_t r0, int64_t rows, __half* __restrict__ out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= nrb * units * 32) return;
  const int lane = int(i & 31);
  const int64_t rest = i >> 5;
  const int u = int(rest % units);
  const int64_t rb = rb0 + rest / units;
  const int k0 = u * kInt4Unit + lane * 8;
  const uint4 c = __ldg(codes + (rb * units + u) * 32 + lane);
  SZ<HS> s;
  s.load(sz, rb * g.groups + group_of(k0, g));
  float sc[4], zc[4];
  s.get(sc, zc);
  const uint32_t words[4] = {c.x, c.y, c.z, c.w};
  const int64_t in_pad = int64_t(units) * kInt4Unit;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t row = rb * 4 + r - r0;
    if (row < 0 || row >= rows) continue;
    float q[8];
    decode8(words[r], q);
    __half2 h[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) h[j] = __floats2half2_rn(sc[r] * (q[2 * j] - zc[r]), sc[r] * (q[2 * j + 1] - zc[r]));
    *reinterpret_cast<uint4*>(out + row * in_pad + k0) = *reinterpret_cast<const uint4*>(h);
  }
}

template <bool HS>
__global__ void gather_kernel(const uint4* __restrict__ codes, const void* __restrict__ sz, int units, Int4Groups g,
                              const int32_t* __restrict__ perm, const int32_t* __restrict__ ids, int64_t n, int64_t in,
                              float* __restrict__ out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * in) return;
  const int64_t t = i / in, j = i % in;
  const int64_t o = ids[t], rb = o / 4;
  const int r = int(o % 4);
  const int u = int(j / kInt4Unit), lane = int(j % kInt4Unit) / 8, p = int(j % 8);
  const uint4 c = __ldg(codes + (rb * units + u) * 32 + lane);
  const uint32_t w = r == 0 ? c.x : r == 1 ? c.y : r == 2 ? c.z : c.w;
  const float q = float((w >> (4 * p)) & 0xF);
  SZ<HS> s;
  s.load(sz, rb * g.groups + group_of(int(j), g));
  float sc[4], zc[4];
  s.get(sc, zc);
  float sr = sc[0], zr = zc[0];
#pragma unroll
  for (int k = 1; k < 4; ++k)
    if (r == k) sr = sc[k], zr = zc[k];
  out[t * in + (perm ? perm[j] : j)] = sr * (q - zr);
}

__global__ void repack_kernel(const uint32_t* __restrict__ cw, int64_t out, int64_t in_pad_cpu, int64_t row_blocks,
                              int units, uint32_t* __restrict__ dst) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= row_blocks * units * 128) return;
  const int r = int(i & 3), lane = int((i >> 2) & 31);
  const int64_t rest = i >> 7;
  const int64_t u = rest % units, rb = rest / units;
  const int64_t o = rb * 4 + r, k0 = u * kInt4Unit + lane * 8;
  uint32_t w = 0;
  if (o < out && k0 < in_pad_cpu) {
    // CPU chunk of 128 inputs: nibble j of word k is input 16·j + k. Inputs 8m..8m+7 are nibble m/2 of words 8·(m%2)+p.
    const int64_t chunk = k0 / 128, m = (k0 % 128) / 8;
    const uint32_t* src = cw + o * (in_pad_cpu / 8) + chunk * 16 + 8 * (m % 2);
    const int sh = int(4 * (m / 2));
#pragma unroll
    for (int p = 0; p < 8; ++p) w |= ((src[p] >> sh) & 0xFu) << (4 * p);
  }
  dst[i] = w;
}

}  // namespace

void launch_int4_permute(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, float* out,
                         cudaStream_t s) {
  permute_kernel<float><<<blocks_for(n * in_pad, 256), 256, 0, s>>>(x, perm, n, in, in_pad, out);
  QB_CUDA_LAUNCH("int4 permute");
}

void launch_int4_permute_half(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, __half* out,
                              cudaStream_t s) {
  permute_kernel<__half><<<blocks_for(n * in_pad, 256), 256, 0, s>>>(x, perm, n, in, in_pad, out);
  QB_CUDA_LAUNCH("int4 permute (fp16)");
}

void launch_int4_dequant(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g, int64_t r0,
                         int64_t rows, __half* out, cudaStream_t s) {
  const int64_t rb0 = r0 / 4, nrb = (rows + 3) / 4;
  const unsigned blocks = blocks_for(nrb * units * 32, 256);
  if (half_scales) dequant_kernel<true><<<blocks, 256, 0, s>>>(codes, sz, units, g, rb0, nrb, r0, rows, out);
  else dequant_kernel<false><<<blocks, 256, 0, s>>>(codes, sz, units, g, rb0, nrb, r0, rows, out);
  QB_CUDA_LAUNCH("int4 dequant");
}

void launch_int4_gather(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g,
                        const int32_t* perm, const int32_t* ids, int64_t n, int64_t in, float* out, cudaStream_t s) {
  const unsigned blocks = blocks_for(n * in, 256);
  if (half_scales) gather_kernel<true><<<blocks, 256, 0, s>>>(codes, sz, units, g, perm, ids, n, in, out);
  else gather_kernel<false><<<blocks, 256, 0, s>>>(codes, sz, units, g, perm, ids, n, in, out);
  QB_CUDA_LAUNCH("int4 gather_rows");
}

void launch_int4_repack(const uint32_t* cpu_words, int64_t out, int64_t in_pad_cpu, int64_t row_blocks, int units,
                        uint4* codes, cudaStream_t s) {
  repack_kernel<<<blocks_for(row_blocks * units * 128, 256), 256, 0, s>>>(cpu_words, out, in_pad_cpu, row_blocks, units,
                                                                          reinterpret_cast<uint32_t*>(codes));
  QB_CUDA_LAUNCH("int4 repack");
}

}  // namespace qbench::cuda
