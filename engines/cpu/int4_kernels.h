#pragma once
// Row kernels over one row of a PackedInt4 (see int4_packed.h): codes are
// unpacked in registers and dequantised with the row's per-group scale and
// zero; activations stay float32 (FMA), so results match float32 math on the
// exactly dequantised weights up to summation order.
#include <cstdint>

#include "engines/cpu/int4_packed.h"

namespace qbench::cpu {

// Σ_j x[j] · W[o][j] over the permuted, padded inputs (x has in_pad entries, zero past in).
float int4_row_dot(const PackedInt4& p, int64_t o, const float* x);
// The same for two rows at once (one pass over x); used by the GEMV.
void int4_row_dot2(const PackedInt4& p, int64_t o, const float* x, float* y0, float* y1);
// W[o][0..in_pad) in permuted order, float32 (the prefill tiles, gather_rows).
void int4_row_dequant(const PackedInt4& p, int64_t o, float* out);

// Plain scalar versions: the reference the vector kernels are tested against.
float int4_row_dot_scalar(const PackedInt4& p, int64_t o, const float* x);
void int4_row_dequant_scalar(const PackedInt4& p, int64_t o, float* out);

}  // namespace qbench::cpu
