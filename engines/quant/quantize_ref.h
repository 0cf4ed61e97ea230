#pragma once
// Weight quantisers for GGUF block types, following llama.cpp's reference
// quantisers (quantize_row_*_ref: what llama-quantize runs when no importance
// matrix is given), so that qbench writes the same blocks for the same input.
#include <cstdint>

#include "engines/quant/ggml_type.h"

namespace qbench::quant {

// Quantises one row x[0..n) into `out` (row_bytes(t, n) bytes). F32/F16/BF16 store the values.
void quantize_row(GgmlType t, const float* x, void* out, int64_t n);

}  // namespace qbench::quant
