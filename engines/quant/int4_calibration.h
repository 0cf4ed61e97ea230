#pragma once
// Calibration statistics for the GPTQ and AWQ quantizers: the FP16 model runs
// the calibration sequences and, for the input of every decoder linear, we
// accumulate H = Σ x·xᵀ (GPTQ's Hessian up to a factor; also gives the output
// error ‖ΔW X‖² = Σ_o Δw_o H Δw_oᵀ without storing X) and Σ|x| per channel
// (AWQ's activation salience). Linears that share an input (q/k/v, gate/up)
// share one statistic. Activations are those of the unquantized model
// (AutoGPTQ instead feeds each layer the output of the already quantized ones).
#include <cstdint>
#include <string>
#include <vector>

namespace qbench::quant {

struct InputStats {
  int64_t in = 0;
  int64_t rows = 0;              // tokens seen
  std::vector<double> h;         // [in][in]
  std::vector<double> abs_sum;   // [in]
  std::vector<float> abs_mean() const;
};

// The four distinct linear inputs of one decoder layer.
struct LayerInputStats {
  InputStats attn_in;  // q, k, v
  InputStats o_in;     // o
  InputStats mlp_in;   // gate, up
  InputStats down_in;  // down
  const InputStats& for_linear(const std::string& short_name) const;  // "q_proj", "down_proj", ...
};

// Runs the HF checkpoint in `model_dir` (F16/BF16/F32) on `seqs` and returns
// statistics for decoder layers [first, last). Memory: O(in²) per input kept.
std::vector<LayerInputStats> collect_input_stats(const std::string& model_dir, const std::vector<std::vector<int32_t>>& seqs,
                                                 int64_t first, int64_t last);

}  // namespace qbench::quant
