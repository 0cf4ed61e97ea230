#pragma once
// GPTQ/AWQ int4 on the GPU: the device layout and the kernels that read it
// (int4_gemv_cuda.cu, int4_dequant_cuda.cu). The Linear is linear_int4_cuda.cu.
// Include from CUDA-aware sources only.
//
// Device layout (built on upload from cpu::PackedInt4, act-order already
// resolved into an input permutation), shaped for mma.sync m16n8k16 with W as
// A (16 output rows × 16 inputs) and the activations as B (8 "token columns":
// hi and lo FP16 halves of up to 4 tokens; a second B for tokens 4..7), so one
// tensor-core instruction yields 16 rows' dot products for 4 tokens and a
// lane's 8 codes of a tile are one 32-bit word:
// - inputs padded to in_pad = a multiple of 128 ("units" of 8 k16 tiles, the
//   CPU's chunk), outputs to a multiple of 16 (a "row block");
// - codes: uint4 [row_blocks][units][2][32 lanes]: lane l = 4·g + c, word j of
//   half h is tile 4h + j of the unit, and nibble p of it is row g + 8·(p & 1)
//   of the block, input 16·t + 2c + ((p >> 2) & 1) + 8·((p >> 1) & 1) of the
//   unit (int4_device.cuh): nibbles (0,4) (1,5) (2,6) (3,7) are the A
//   fragment's four FP16 pairs, two LOP3s and a shift away. A warp reads a
//   unit as two coalesced 512-byte loads;
// - scales and zeros per row block and group: 16 × half2 (s, z), 64 bytes (when
//   every scale is exactly an F16 value, as GPTQ/AWQ files store them), else
//   16 × float2. Zeros are integers 0..16, so q − z is exact in FP16; the scale
//   multiplies the tensor core's FP32 sums per group, in FP32;
// - activations (int4_xfrag): per unit, tile pair i and half h, the 32 lanes'
//   B fragments as uint4 {b0, b1 of tile 2i, b0, b1 of tile 2i+1}: token
//   column 2t is FP16(x_t), column 2t + 1 is FP16(x_t − FP16(x_t)), so the
//   products keep ~22 bits of x and sum in FP32 (half 1 holds tokens 4..7);
//   one zero uint4 after them, which lanes of columns without a token read.
// Group of (permuted) input k: min(k / group_size, groups − 1); group sizes are
// multiples of 16 (pack_int4_for_cpu checks), so a tile lies in one group.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace qbench::cuda {

constexpr int kInt4Unit = 128;       // inputs per unit (8 tiles of 16)
constexpr int kInt4Rows = 16;        // output rows per row block (the mma's m)
constexpr int kInt4UnitVecs = 64;    // code uint4s per (row block, unit): 2 halves × 32 lanes
constexpr int kInt4MaxSegments = 4;  // GEMVs over one input merged into one launch

struct Int4Groups {
  int groups = 1;
  int gshift = -1;  // k >> gshift when the group size is a power of two, else k / gsize
  int gsize = 0;
  int tile_mask = 7;  // tiles of 16 per scale interval − 1 (1, 2, 4 or 8 tiles, all in one group)
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

// A one-row RMSNorm folded into the int4 GEMV launches around it (linear_int4_cuda.h fold_rmsnorm_into_int4),
// n == 1. The launch before it (one segment with a residual) writes the fragments of x·norm_w into norm_xf and
// per row block the sum of x² into norm_part[row block]; the launches after it multiply their sums by
// 1/sqrt(sum(scale_part) / scale_dim + scale_eps). All null / zero: no fold.
struct Int4NormFold {
  const float* norm_w;
  uint32_t* norm_xf;
  float* norm_part;
  const float* scale_part;
  int scale_parts;
  int scale_dim;
  float scale_eps;
};

// SiLU·mul folded into the gate/up GEMV launch (linear_int4_cuda.h fold_silu_into_int4), n <= 4: the launch's
// two segments are gate and up of equal rows; each block pairs gate's row blocks with up's same row blocks, and
// its epilogue writes the fragments of silu(gate) · up for the down GEMV instead of either output. xf null: no
// fold.
struct Int4SiluFold {
  uint32_t* xf;
  int halves;
  int64_t rows;
};

struct Int4GemvArgs {
  Int4Segment seg[kInt4MaxSegments];
  int nseg;
  const uint4* xf;  // activation fragments (launch_int4_xfrag) for n tokens
  int units;
  Int4Groups g;
  int n;
  Int4NormFold nf;
  // Let the next kernel's blocks be scheduled only as this launch's blocks finish (pdl.cuh pdl_trigger): set
  // for a GEMV followed directly by another GEMV (nf's norm_xf side).
  bool trigger_late;
  Int4SiluFold silu;
};

// y_s[t, :] = x[t, :] · W_sᵀ for t < n <= 8: in-register dequantisation to FP16, tensor-core tiles, FP32 sums.
void launch_int4_gemv(const Int4GemvArgs& a, bool half_scales, cudaStream_t s);

// Halves of activation fragments for n tokens: 1 for n <= 4, 2 for n <= 8.
inline int int4_xfrag_halves(int64_t n) { return n <= 4 ? 1 : 2; }
// Bytes of the fragments of n tokens over in_pad inputs, with the zero uint4 after them.
inline size_t int4_xfrag_bytes(int64_t n, int64_t in_pad) {
  return (size_t(in_pad / kInt4Unit) * 4 * size_t(int4_xfrag_halves(n)) * 32 + 1) * 16;
}
// Bytes of the codes of a row_blocks × units matrix.
inline size_t int4_code_bytes(int64_t row_blocks, int units) {
  return size_t(row_blocks) * size_t(units) * kInt4UnitVecs * sizeof(uint4);
}
// x[t][perm ? perm[j] : j] (j < in; 0 beyond, and for t >= n) into the fragment layout above, n <= 8.
void launch_int4_xfrag(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, uint4* xf,
                       cudaStream_t s);

// out[t][j] = j < in ? FP16(x[t][perm ? perm[j] : j]) : 0 for j < in_pad (the prefill GEMM's activations).
void launch_int4_permute_half(const float* x, const int32_t* perm, int64_t n, int64_t in, int64_t in_pad, __half* out,
                              cudaStream_t s);

// Rows [r0, r0 + rows) of W (r0 % 16 == 0) dequantised to FP16, [rows][in_pad], permuted input order.
void launch_int4_dequant(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g, int64_t r0,
                         int64_t rows, __half* out, cudaStream_t s);

// out[i][perm ? perm[j] : j] = W[ids[i]][j] for j < in (float32, original input order); ids on the device.
void launch_int4_gather(const uint4* codes, const void* sz, bool half_scales, int units, Int4Groups g,
                        const int32_t* perm, const int32_t* ids, int64_t n, int64_t in, float* out, cudaStream_t s);

// Upload repack: CPU words ([out][units · 16], nibble j of word k = input 16·j + k of a 128-input chunk)
// into the device code layout above.
void launch_int4_repack(const uint32_t* cpu_words, int64_t out, int64_t row_blocks, int units, uint4* codes,
                        cudaStream_t s);

}  // namespace qbench::cuda
