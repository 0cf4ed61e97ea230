#pragma once
// Four-row GGUF dot products: four weight rows · one quantised activation row
// in one pass. Decode is compute-bound on few cores, and a pass over four
// rows loads each activation block and does its per-block work (scales,
// sums for the zero-point terms) once instead of four times. Same integer
// arithmetic as quant::vec_dot_ref; only the order of the float sums differs.
#include <cstdint>

#include "engines/quant/ggml_type.h"

namespace qbench::cpu {

constexpr int kDotRows = 4;
// out[r] = rows[r] · act for r < kDotRows; n elements per row.
using GgufDotRowsFn = void (*)(const uint8_t* const* rows, const void* act, int64_t n, float* out);

// nullptr where this build has no four-row kernel for the type (callers use the one-row kernel).
GgufDotRowsFn gguf_dot_rows_kernel(quant::GgmlType weight);

}  // namespace qbench::cpu
