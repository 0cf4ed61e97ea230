#pragma once
// GPTQ/AWQ int4 on the GPU: the device layout and the kernels that read it
// (int4_gemv_cuda.cu, int4_dequant_cuda.cu). The Linear is linear_int4_cuda.cu.
// Include from CUDA-aware sources only.
//
// Device layout (built on upload from cpu::PackedInt4, act-order already
// resolved into an input permutation):
// - inputs padded to in_pad = a multiple of 256 ("units" of 256 inputs),
//   outputs to a multiple of 4 (a "row block");
// - codes: uint4 [row_blocks][units][32 lanes]: lane l of unit u holds, for
//   each of the block's 4 rows r (the uint4's x, y, z, w), one 32-bit word
//   with the codes of inputs 256·u + 8·l + p in nibble p (p = 0..7). A warp's
//   16-byte loads are one coalesced 512-byte read, each lane's 8 inputs are
//   one group, and its 8 activations serve all 4 rows;
// - scales and zeros per row block and group: 4 × half2 (s, z), one uint4
//   (when every scale is exactly an F16 value, as GPTQ/AWQ files store them),
//   else 4 × float2 (two uint4). w = s · (q − z), exact in float32.
// Group of (permuted) input k: min(k / group_size, groups − 1).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace qbench::cuda {

constexpr int kInt4Unit = 256;       // inputs per unit (32 lanes × 8)
constexpr int kInt4GemvWarps = 4;    // warps per GEMV block
constexpr int kInt4MaxSegments = 4;  // GEMVs over one input merged into one launch

struct Int4Groups {
  int groups = 1;
  int gshift = -1;  // k >> gshift when the group size is a power of two, else k / gsize
  int gsize = 0;
};

// One weight matrix of a (merged) GEMV launch with its epilogue:
// y = x·Wᵀ (+ bias); resid += y.
struct Int4Segment {
  const uint4* codes;
  const void* sz;
  float* y;
  const float* bias;
  float* resid;
  int64_t rows;    // output rows of this matrix
  int64_t rb_end;  // cumulative row blocks up to and including this segment
};

struct Int4GemvArgs {
  Int4Segment seg[kInt4MaxSegments];
  int nseg;
  const float* x;  // [n][xs] activations in the packed (permuted) input order
  int64_t xs;      // floats per token row of x
  int64_t kvalid;  // inputs of x that exist (a multiple of 8); the rest count as zero
  int units;
  Int4Groups g;
  int n;
};

// y_s[t, :] = x[t, :] · W_sᵀ for t < n <= 8, in-register dequantisation, FP32 accumulate.
void launch_int4_gemv(const Int4GemvArgs& a, bool half_scales, cudaStream_t s);

// out[t][j] = j < in ? x[t][perm ? perm[j] : j] : 0 for j < in_pad (float or half out).
void launch_int4_permute(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, float* out,
                         cudaStream_t s);
void launch_int4_permute_half(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, __half* out,
                              cudaStream_t s);

// Rows [r0, r0 + rows) of W (r0 % 4 == 0) dequantised to FP16, [rows][in_pad], permuted input order.
void launch_int4_dequant(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g, int64_t r0,
                         int64_t rows, __half* out, cudaStream_t s);

// out[i][perm ? perm[j] : j] = W[ids[i]][j] for j < in (float32, original input order); ids on the device.
void launch_int4_gather(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g,
                        const int32_t* perm, const int32_t* ids, int64_t n, int64_t in, float* out, cudaStream_t s);

// Upload repack: CPU words ([out][in_pad_cpu / 8], nibble j of word k = input 16·j + k of a 128-input chunk)
// into the device code layout above.
void launch_int4_repack(const uint32_t* cpu_words, int64_t out, int64_t in_pad_cpu, int64_t row_blocks, int units,
                        uint4* codes, cudaStream_t s);

}  // namespace qbench::cuda
