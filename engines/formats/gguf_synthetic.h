#pragma once
// Random-weight GGUF files of real architectures and real type mixes, written
// block by block straight from random quantised blocks (no FP16 step), so
// that 7B-scale speed can be measured without a download.
#include <cstdint>
#include <string>

#include "engines/model/model_config.h"
#include "engines/quant/gguf_mix.h"

namespace qbench {

struct SyntheticGgufOptions {
  std::string out_path;
  uint64_t seed = 0;
  std::string tokenizer_json;    // "" = no tokenizer metadata
  std::string tokenizer_config;  // optional
};

// Returns the file size. Deterministic for a seed, independent of the thread count.
uint64_t write_synthetic_gguf(const ModelConfig& cfg, quant::GgufMix mix, const SyntheticGgufOptions& opt);

}  // namespace qbench
