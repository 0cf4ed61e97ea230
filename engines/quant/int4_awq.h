#pragma once
// AWQ's activation-aware scale search (Lin et al. 2023) for linears that share
// one input: scale input channel i by s_i = mean|x_i|^α (normalised so
// max·min = 1), quantize W·diag(s) with AutoAWQ's asymmetric group RTN, and
// keep the α in {0, 1/grid, …, (grid−1)/grid} whose output error
// Σ ‖(W − Q(W·s)/s) X‖² is smallest (α = 0 is plain RTN). The caller folds
// 1/s into the op that produces the input (an RMSNorm weight, up_proj rows).
#include <cstdint>
#include <vector>

namespace qbench::quant {

struct AwqLinearRef {
  const float* w;  // [out][in]
  int64_t out;
};

struct AwqScaleResult {
  std::vector<float> scales;  // [in]; all 1 when alpha == 0
  double alpha = 0;
  double loss = 0, loss_rtn = 0;  // Σ ‖ΔW X‖² at the chosen α and at α = 0
};

// h: Σ x·xᵀ [in][in]; abs_mean: mean |x| per input channel.
AwqScaleResult awq_search_scales(const std::vector<AwqLinearRef>& linears, int64_t in, const std::vector<double>& h,
                                 const std::vector<float>& abs_mean, int64_t group_size, int grid = 20);

// ‖(W − Ŵ) X‖²_F = Σ_o (w_o − ŵ_o)ᵀ H (w_o − ŵ_o), with H = Σ x·xᵀ.
double output_error(const float* w, const float* w_hat, int64_t out, int64_t in, const std::vector<double>& h);

}  // namespace qbench::quant
