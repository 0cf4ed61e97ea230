#pragma once
// `qbench quantize --to gguf`: an HF FP16/BF16/F32 checkpoint to a GGUF file
// of one llama-quantize mix (Q8_0, Q4_K_M, Q5_K_S), with full metadata and
// tokenizer. No F16 GGUF is written on the way.
#include <cstdint>
#include <map>
#include <string>

#include "engines/quant/gguf_mix.h"

namespace qbench {

struct GgufQuantizeResult {
  uint64_t file_bytes = 0;
  uint64_t weight_bytes = 0;     // tensor data
  int64_t parameters = 0;        // elements over all tensors
  double bits_per_weight = 0;    // 8 * weight_bytes / parameters
  std::map<std::string, int> type_counts;  // ggml type name -> tensors
};

GgufQuantizeResult quantize_hf_to_gguf(const std::string& hf_dir, quant::GgufMix mix, const std::string& out_path);

}  // namespace qbench
