// The int4 kernels around the GEMV: the prefill GEMM's FP16 activations
// (permuted for act-order, padded), FP16 dequantisation of row tiles for that
// GEMM, the embedding gather, and the upload repack from the CPU layout. (The
// GEMV's activation fragments are packed in int4_gemv_cuda.cu.)
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/int4_device.cuh"
#include "engines/cuda/int4_kernels_cuda.h"

namespace qbench::cuda {

namespace {

unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

__global__ void permute_half_kernel(const float* __restrict__ x, const int32_t* __restrict__ perm, int64_t n, int64_t in,
                                    int64_t in_pad, __half* __restrict__ out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * in_pad) return;
  const int64_t t = i / in_pad, j = i % in_pad;
  float v = 0.f;
  if (j < in) v = x[t * in + (perm ? perm[j] : j)];
  out[i] = __float2half_rn(v);
}

// One warp per (row block, unit): each lane dequantises its 64 codes (rows g and g + 8) into a shared
// 16 × 128 tile (row stride padded to 136 halves: the lanes' 4-byte writes hit 32 different banks), then the
// warp writes the tile out in 16-byte pieces, 256 contiguous bytes per row.
constexpr int kDqStride = kInt4Unit + 8;
__global__ void __launch_bounds__(256) dequant_kernel(const uint4* __restrict__ codes, const void* __restrict__ sz,
                                                      bool hs, int units, Int4Groups g, int64_t rb0, int64_t nrb,
                                                      int64_t r0, int64_t rows, __half* __restrict__ out) {
  __shared__ __align__(16) __half tile[8][kInt4Rows][kDqStride];
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5;
  const int64_t wi = int64_t(blockIdx.x) * 8 + wib;
  if (wi >= nrb * units) return;
  const int u = int(wi % units);
  const int64_t rb = rb0 + wi / units;
  const int gl = lane >> 2, c = lane & 3;
  const uint4* unit = codes + (rb * units + u) * kInt4UnitVecs + lane;
  const uint4 c0 = __ldg(unit), c1 = __ldg(unit + 32);
  const uint32_t words[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
#pragma unroll
  for (int t = 0; t < 8; ++t)
#pragma unroll
    for (int p = 0; p < 4; ++p) {  // nibbles p and p + 4: one row, inputs k and k + 1
      const int r = int4_code_row(p, gl), k = int4_code_input(t, p, c);
      const float2 f = int4_sz(sz, hs, (rb * g.groups + group_of(u * kInt4Unit + k, g)) * kInt4Rows + r);
      const float q0 = float((words[t] >> (4 * p)) & 0xFu), q1 = float((words[t] >> (4 * p + 16)) & 0xFu);
      *reinterpret_cast<__half2*>(&tile[wib][r][k]) = __floats2half2_rn(f.x * (q0 - f.y), f.x * (q1 - f.y));
    }
  __syncwarp();
  const int64_t in_pad = int64_t(units) * kInt4Unit;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const int idx = lane + 32 * j, rr = idx >> 4, piece = idx & 15;
    const int64_t row = rb * kInt4Rows + rr - r0;
    if (row < 0 || row >= rows) continue;
    *reinterpret_cast<uint4*>(out + row * in_pad + int64_t(u) * kInt4Unit + piece * 8) =
        *reinterpret_cast<const uint4*>(&tile[wib][rr][piece * 8]);
  }
}

__global__ void gather_kernel(const uint4* __restrict__ codes, const void* __restrict__ sz, bool hs, int units,
                              Int4Groups g, const int32_t* __restrict__ perm, const int32_t* __restrict__ ids,
                              int64_t n, int64_t in, float* __restrict__ out) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * in) return;
  const int64_t t = i / in, j = i % in;
  const int64_t o = ids[t], rb = o / kInt4Rows;
  const int r = int(o % kInt4Rows);
  const int u = int(j / kInt4Unit);
  const Int4CodePos pos = int4_code_pos(r, int(j % kInt4Unit));
  const uint32_t* cw = reinterpret_cast<const uint32_t*>(codes);
  const float q = float((__ldg(cw + int4_word_index(rb, units, u, pos.lane, pos.word)) >> (4 * pos.nibble)) & 0xFu);
  const float2 f = int4_sz(sz, hs, (rb * g.groups + group_of(int(j), g)) * kInt4Rows + r);
  out[t * in + (perm ? perm[j] : j)] = f.x * (q - f.y);
}

// One thread per device word, in int4_word_index order: (row block, unit, half, lane, word of the uint4).
constexpr int kUnitWords = kInt4UnitVecs * 4;
__global__ void repack_kernel(const uint32_t* __restrict__ cw, int64_t out, int64_t row_blocks, int units,
                              uint32_t* __restrict__ dst) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= row_blocks * units * kUnitWords) return;
  const int lane = int((i >> 2) & 31), t = int(((i >> 7) & 1) * 4 + (i & 3));
  const int64_t rest = i / kUnitWords;
  const int64_t u = rest % units, rb = rest / units;
  uint32_t v = 0;
#pragma unroll
  for (int p = 0; p < 8; ++p) {
    const int64_t o = rb * kInt4Rows + int4_code_row(p, lane >> 2);
    if (o >= out) continue;
    // CPU chunk u of row o: nibble k / 16 of word k % 16 is input k of the chunk.
    const uint32_t* src = cw + o * (int64_t(units) * 16) + u * 16;
    const int k = int4_code_input(t, p, lane & 3);
    v |= ((src[k & 15] >> (4 * (k >> 4))) & 0xFu) << (4 * p);
  }
  dst[i] = v;
}

}  // namespace

void launch_int4_permute_half(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, __half* out,
                              cudaStream_t s) {
  permute_half_kernel<<<blocks_for(n * in_pad, 256), 256, 0, s>>>(x, perm, n, in, in_pad, out);
  QB_CUDA_LAUNCH("int4 permute (fp16)");
}

void launch_int4_dequant(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g, int64_t r0,
                         int64_t rows, __half* out, cudaStream_t s) {
  const int64_t rb0 = r0 / kInt4Rows, nrb = (rows + kInt4Rows - 1) / kInt4Rows;
  dequant_kernel<<<blocks_for(nrb * units, 8), 256, 0, s>>>(codes, sz, half_scales, units, g, rb0, nrb, r0, rows,
                                                                    out);
  QB_CUDA_LAUNCH("int4 dequant");
}

void launch_int4_gather(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g,
                        const int32_t* perm, const int32_t* ids, int64_t n, int64_t in, float* out, cudaStream_t s) {
  gather_kernel<<<blocks_for(n * in, 256), 256, 0, s>>>(codes, sz, half_scales, units, g, perm, ids, n, in, out);
  QB_CUDA_LAUNCH("int4 gather_rows");
}

void launch_int4_repack(const uint32_t* cpu_words, int64_t out, int64_t row_blocks, int units, uint4* codes,
                        cudaStream_t s) {
  repack_kernel<<<blocks_for(row_blocks * units * kUnitWords, 256), 256, 0, s>>>(cpu_words, out, row_blocks, units,
                                                                          reinterpret_cast<uint32_t*>(codes));
  QB_CUDA_LAUNCH("int4 repack");
}

}  // namespace qbench::cuda
