#pragma once
// Writes quantized checkpoints exactly as AutoGPTQ and AutoAWQ lay them out,
// so the real tools and qbench both load them: tensor names and packing
// (int4_packing.h), F16 scales, quantize_config.json / quantization_config,
// and everything else of the source HF checkpoint (embeddings, norms, biases,
// tokenizer files) copied, with optional replacement values (AWQ folds its
// channel scales into the preceding norms and projections).
#include <map>
#include <string>
#include <vector>

#include "engines/quant/int4_codes.h"

namespace qbench {

enum class Int4FileFormat { Gptq, Awq };

struct Int4Checkpoint {
  Int4FileFormat format = Int4FileFormat::Gptq;
  int64_t group_size = 128;  // as the config records it (-1: one group)
  bool desc_act = false;     // GPTQ
  bool sym = true;           // GPTQ
  double damp = 0.01;        // GPTQ (recorded in the config)
  std::map<std::string, quant::Int4Codes> linears;        // by prefix, e.g. model.layers.0.mlp.up_proj
  std::map<std::string, std::vector<float>> replacements;  // dense tensors to write with new values (same shape)
};

// Returns the bytes of tensors written.
uint64_t write_int4_checkpoint(const std::string& src_dir, const std::string& out_dir, const Int4Checkpoint& ck);

}  // namespace qbench
