#pragma once
// `qbench quantize --to gptq|awq`: an FP16/BF16 HF checkpoint in, an
// AutoGPTQ- or AutoAWQ-format checkpoint out, decoder layer by layer.
// Reports, per linear (GPTQ) or per group of linears sharing an input (AWQ),
// the calibration output error ‖(W − Ŵ)X‖² of the method and of plain
// round-to-nearest with the same group size and quantizer.
#include <cstdint>
#include <string>
#include <vector>

namespace qbench::quant {

struct ModelQuantizeOptions {
  std::string method = "gptq";  // "gptq" or "awq"
  int64_t group_size = 128;     // -1: one group per row
  bool desc_act = false;        // GPTQ act-order
  bool sym = true;              // GPTQ symmetric
  double damp = 0.01;           // GPTQ dampening, fraction of mean(diag H)
  int awq_grid = 20;
  std::vector<std::vector<int32_t>> calibration;  // token sequences
  uint64_t stats_budget_bytes = 2ull << 30;       // Hessians kept at once (decides layers per calibration pass)
};

struct QuantErrorReport {
  std::string name;       // e.g. model.layers.0.self_attn.q_proj, or ...layers.0.[q,k,v] for AWQ
  double err_method = 0;  // ‖(W − Ŵ)X‖² summed over the calibration tokens
  double err_rtn = 0;     // same for round-to-nearest
  double energy = 0;      // ‖W X‖², to make the errors relative
  double awq_alpha = 0;   // AWQ only: the chosen exponent
};

// Calibration token sequences for `model_dir`: its tokenizer.json on `calib_file`
// (the bundled text when empty). Throws qbench::Error when the model has no tokenizer.
std::vector<std::vector<int32_t>> calibration_for_model(const std::string& model_dir, const std::string& calib_file,
                                                        int64_t seq_len, int64_t max_seqs);

// A plain-text table of the reports (relative errors ‖ΔW X‖ / ‖W X‖) and their sums.
std::string error_report_table(const std::vector<QuantErrorReport>& rep, const std::string& method);

std::vector<QuantErrorReport> quantize_model(const std::string& model_dir, const std::string& out_dir, const ModelQuantizeOptions& opt);

}  // namespace qbench::quant
