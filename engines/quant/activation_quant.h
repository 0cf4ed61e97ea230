#pragma once
// Quantisation of float activations into the block type a weight type's dot
// product consumes, exactly as llama.cpp's x86 CPU backend does it (so that
// qbench lands on llama.cpp's logits, not just near them):
//   Q8_0 / Q8_1 (for Q4_0, Q5_0, Q8_0 / Q4_1, Q5_1): scale 127/amax, round half to even (the AVX2 path);
//   Q8_K (for Q4_K, Q5_K, Q6_K): quantize_row_q8_K_ref, scale -127/max with the sign of the largest value;
//   F16 / BF16 weights take activations rounded to F16 / BF16; F32 takes them as they are.
#include <cstdint>

#include "engines/quant/ggml_type.h"

namespace qbench::quant {

GgmlType activation_type(GgmlType weight);
// Bytes of one activation row of n elements for weights of type `weight`.
uint64_t activation_row_bytes(GgmlType weight, int64_t n);
void quantize_activation(GgmlType weight, const float* x, void* out, int64_t n);

void quantize_row_q8_0_x86(const float* x, void* out, int64_t n);
void quantize_row_q8_1_x86(const float* x, void* out, int64_t n);
void quantize_row_q8_k(const float* x, void* out, int64_t n);

}  // namespace qbench::quant
