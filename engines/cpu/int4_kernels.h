#pragma once
// Row kernels over a PackedInt4 (see int4_packed.h).
//
// Decode GEMV (int4_rows_dot_bf16): x is split once per forward into bf16
// parts, x = hi + mid + lo (each the bf16 rounding of what the previous ones
// left: 3 parts carry all 24 bits of a float32), and each code q becomes the
// exact bf16 number q − z through a 32-entry vpermw table per row and group,
// so one vdpbf16ps does 32 exact products per part, summed in f32; the group's
// scale is applied once per group. The result is float32 math on the exactly
// dequantised weights up to summation order (the fixture's float32 tolerance).
// Per 32 weights and row: one 16-bit shift, one vpermw, kParts vdpbf16ps,
// against a shift, a vpermps and an FMA per 16 weights for an f32 kernel.
//
// int4_row_dot / int4_row_dequant: exact float32 paths (dequantise, then f32
// FMAs) for group sizes the bf16 kernel does not take, CPUs without
// AVX512_BF16, the prefill tiles and gather_rows.
#include <cstdint>
#include <vector>

#include "engines/cpu/int4_packed.h"

namespace qbench::cpu {

// Activations of one token for the bf16 kernel, in the packed input order.
struct Int4Bf16Activations {
  static constexpr int kParts = 3;           // bf16 terms per input: 3 carry all 24 bits of an f32
  std::vector<uint16_t> parts[kParts];       // [in_pad] bf16 bits each, zero past `in`; x = Σ parts
};

// True when this build and this matrix can use int4_rows_dot_bf16: AVX512_BF16
// compiled in, and groups that are whole 32-input steps (or one group).
bool int4_bf16_supported(const PackedInt4& p);

// xp: in_pad floats in the packed (permuted, zero-padded) order.
void int4_prepare_bf16(const PackedInt4& p, const float* xp, Int4Bf16Activations& a);

// y[r] = Σ_j x[j] · W[o + r][j] for r < rows (1..4): rows share every activation load.
void int4_rows_dot_bf16(const PackedInt4& p, int64_t o, int rows, const Int4Bf16Activations& a, float* y);

// Σ_j x[j] · W[o][j] over the permuted, padded inputs (x has in_pad entries, zero past in); float32.
float int4_row_dot(const PackedInt4& p, int64_t o, const float* x);
// W[o][0..in_pad) in permuted order, float32, bit-exact (the prefill tiles, gather_rows).
void int4_row_dequant(const PackedInt4& p, int64_t o, float* out);

// Plain scalar versions: the reference the vector kernels are tested against.
float int4_row_dot_scalar(const PackedInt4& p, int64_t o, const float* x);
void int4_row_dequant_scalar(const PackedInt4& p, int64_t o, float* out);

}  // namespace qbench::cpu
