#pragma once
// Vectorised GGUF dot products (AVX-512 VNNI / AVX2), one per weight type;
// nullptr where this build has no vector kernel for the type.
#include "engines/cpu/gguf_dot.h"

namespace qbench::cpu {

GgufDotFn simd_dot_kernel(quant::GgmlType weight);
const char* simd_dot_isa();

}  // namespace qbench::cpu
