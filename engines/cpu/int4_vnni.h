#pragma once
// Int4 GEMV with int16 activations on AVX-512 VNNI (vpdpwssd: 32 int16
// multiply-adds per instruction). The float kernels in int4_kernels.h spend
// three vector ops on every 16 weights (shift, vpermps lookup, FMA); here one
// shift, one AND and one vpdpwssd cover 32. With two short chains per row and a
// software prefetch, a cold 1536x8960 GEMV on the 2-vCPU Zen 4 VM went from the
// float kernel's 14.4 GB/s to 17-20 GB/s (docs/gptq-awq.md).
//
// Activations are quantised per 128-input chunk to int16 (x ≈ a_c · xq, |xq| ≤
// 32767: relative error ≤ 1.5e-5 of the chunk's largest value, far inside the
// 1e-3 the kernels are held to) and laid out to match the packed codes: word k
// of a chunk holds inputs 16j + k in nibble j, so (v >> 4j) & 0x000F000F is the
// int16 pair (input 16j + k, input 16(j+4) + k), j = 0..3.
//
// Per chunk: int32 sum of q·xq, scaled once by s_g · a_c; the zero point comes
// out as Σ_c s_g z_g a_c Σ xq_c (w = s·(q − z)). Usable when every group is a
// whole number of chunks (group size a multiple of 128, or one group per row).
#include <cstdint>
#include <vector>

#include "engines/cpu/int4_packed.h"

namespace qbench::cpu {

struct Int4ActI16 {
  std::vector<int16_t> xq;         // [in_pad], pair order described above
  std::vector<float> chunk_scale;  // [in_pad / 128]: a_c
  std::vector<float> chunk_sum;    // [in_pad / 128]: a_c · Σ xq over the chunk
};

// True when this build has the VNNI kernels and p's groups are whole chunks.
bool int4_vnni_usable(const PackedInt4& p);
// xp: in_pad floats in packed (permuted) order, zero past `in`.
void int4_quantize_act_i16(const PackedInt4& p, const float* xp, Int4ActI16& a);
float int4_row_dot_vnni(const PackedInt4& p, int64_t o, const Int4ActI16& a);
void int4_row_dot2_vnni(const PackedInt4& p, int64_t o, const Int4ActI16& a, float* y0, float* y1);

}  // namespace qbench::cpu
