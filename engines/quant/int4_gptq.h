#pragma once
// The GPTQ algorithm (Frantar et al. 2022, as AutoGPTQ's fasterquant runs it)
// for one linear layer: given W [out][in] and the Hessian H = Σ x·xᵀ of its
// calibration inputs, quantize column by column and push each column's
// rounding error onto the columns not yet quantized, through the upper
// Cholesky factor of H⁻¹ (dampened by damp·mean(diag H)). Columns are taken in
// blocks of 128 with lazy batch updates; act-order takes them by decreasing
// diag(H) and records the resulting groups in g_idx.
#include <cstdint>
#include <vector>

#include "engines/quant/int4_codes.h"
#include "engines/quant/int4_rtn.h"

namespace qbench::quant {

struct GptqOptions {
  int64_t group_size = 128;  // <= 0: one group per row
  bool act_order = false;    // desc_act
  bool sym = true;
  double damp = 0.01;        // fraction of mean(diag H) added to the diagonal
  int64_t block_size = 128;
};

// h: [in][in] row-major (symmetric). Throws qbench::Error when H stays
// indefinite after dampening (too little calibration data for this layer).
Int4Codes gptq_quantize(const float* w, int64_t out, int64_t in, const std::vector<double>& h, const GptqOptions& opt);

}  // namespace qbench::quant
