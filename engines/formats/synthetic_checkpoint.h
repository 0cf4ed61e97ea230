#pragma once
// Random-weight HF checkpoints of real architectures, so speed and memory can
// be measured without downloading a model. Deterministic for a seed,
// independent of the thread count.
#include <cstdint>
#include <string>

#include "engines/model/model_config.h"

namespace qbench {

struct SyntheticOptions {
  std::string out_dir;
  uint64_t seed = 0;
  std::string tokenizer_json;  // copied next to the weights ("" = none)
  uint64_t max_shard_bytes = 4ull << 30;
  float weight_std = 0.02f;    // initializer_range of the Qwen2.5 / Llama configs
};

// Writes config.json, generation_config.json, model*.safetensors (F16) and the tokenizer.
// Returns the bytes of weights written.
uint64_t write_synthetic_checkpoint(const ModelConfig& cfg, const SyntheticOptions& opt);

}  // namespace qbench
