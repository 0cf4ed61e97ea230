#pragma once
// AWQ checkpoints as AutoAWQ writes them in its GEMM layout: `quantization_config`
// in config.json (quant_method "awq", version "gemm") or the older
// quant_config.json, and per linear layer qweight/qzeros/scales.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engines/core/tensor_source.h"
#include "engines/quant/int4_codes.h"

namespace qbench {

struct AwqConfig {
  int bits = 4;
  int64_t group_size = 128;  // -1: one group per row
  bool zero_point = true;
  std::string version = "gemm";
  std::string source;
  nlohmann::json raw;

  // Throws qbench::Error for settings qbench cannot load (GEMV layout, no zero point, bits != 4).
  void validate() const;
};

// The AWQ config of HF directory `dir`, or nullopt when it is not an AWQ checkpoint.
std::optional<AwqConfig> find_awq_config(const std::string& dir);
AwqConfig parse_awq_config(const nlohmann::json& j, const std::string& where);

// Reads and validates `prefix`.{qweight,qzeros,scales} of a [out, in] layer.
quant::Int4Codes read_awq_linear(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out,
                                 const AwqConfig& cfg);

}  // namespace qbench
