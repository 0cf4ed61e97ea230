#pragma once
// GPTQ checkpoints as AutoGPTQ and GPTQModel write them: the quantization
// config (quantize_config.json, or `quantization_config` in config.json with
// quant_method "gptq") and, per linear layer, qweight/qzeros/scales/g_idx.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engines/core/tensor_source.h"
#include "engines/quant/int4_codes.h"

namespace qbench {

struct GptqConfig {
  int bits = 4;
  int64_t group_size = 128;  // -1: one group per row
  bool sym = true;
  bool desc_act = false;
  std::string checkpoint_format = "gptq";  // "gptq" stores zero − 1; "gptq_v2" stores the zero itself
  std::string source;                      // the file the config came from
  nlohmann::json raw;                      // as read, for result files

  bool zeros_minus_one() const { return checkpoint_format == "gptq"; }
  // Throws qbench::Error for settings qbench cannot load (bits != 4, unknown format...).
  void validate() const;
};

// The GPTQ config of HF directory `dir`, or nullopt when it is not a GPTQ
// checkpoint. Throws qbench::Error when a config exists but is malformed.
std::optional<GptqConfig> find_gptq_config(const std::string& dir);
GptqConfig parse_gptq_config(const nlohmann::json& j, const std::string& where);

// Reads and validates `prefix`.{qweight,qzeros,scales,g_idx} of a [out, in] layer.
quant::Int4Codes read_gptq_linear(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out,
                                  const GptqConfig& cfg);

}  // namespace qbench
