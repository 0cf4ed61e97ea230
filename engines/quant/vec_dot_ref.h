#pragma once
// Scalar reference dot products between one weight row (of its GGUF block
// type) and one activation row quantised by quantize_activation: integer sums
// per block, scaled in float, as ggml's generic vec_dot_* do. The fast CPU
// kernels (engines/cpu/gguf_dot_*) are tested against these.
#include <cstdint>

#include "engines/quant/ggml_type.h"

namespace qbench::quant {

float vec_dot_ref(GgmlType weight, const void* wrow, const void* act, int64_t n);

}  // namespace qbench::quant
