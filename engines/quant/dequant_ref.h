#pragma once
// Plain scalar dequantisation of one row, the reference every fast kernel and
// every loader test is checked against (same arithmetic as ggml's
// dequantize_row_*; float results are identical to gguf-py's).
#include <cstdint>

#include "engines/quant/ggml_type.h"

namespace qbench::quant {

// y[0..n) = dequant(row), n a multiple of the type's block. Supported types only.
void dequantize_row(GgmlType t, const void* row, float* y, int64_t n);

}  // namespace qbench::quant
