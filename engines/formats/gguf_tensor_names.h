#pragma once
// Hugging Face <-> llama.cpp tensor names for Qwen2/Llama decoders, and the
// order llama.cpp's converter writes them in (HF names sorted as strings).
#include <cstdint>
#include <string>
#include <vector>

#include "engines/model/model_config.h"

namespace qbench {

// "model.layers.3.mlp.down_proj.weight" -> "blk.3.ffn_down.weight"; "" when the name has no GGUF counterpart.
std::string gguf_name_for_hf(const std::string& hf_name);

struct PlannedTensor {
  std::string hf_name, gguf_name;
  std::vector<int64_t> dims;  // GGUF order (ne0 first)
};
// Every tensor of a model of config c, in converter order.
std::vector<PlannedTensor> planned_tensors(const ModelConfig& c);

}  // namespace qbench
