#pragma once
// The dot product kernel for one GGUF weight type: weight row (its blocks)
// · activation row (quantised by quant::quantize_activation). Picks the
// AVX-512 / AVX2 kernel the build targets, else the scalar reference.
#include <cstdint>

#include "engines/quant/ggml_type.h"

namespace qbench::cpu {

using GgufDotFn = float (*)(const void* wrow, const void* act, int64_t n);

GgufDotFn gguf_dot_kernel(quant::GgmlType weight);
// Which implementation gguf_dot_kernel returns for a type: "avx512", "avx2" or "scalar".
const char* gguf_dot_isa(quant::GgmlType weight);

}  // namespace qbench::cpu
