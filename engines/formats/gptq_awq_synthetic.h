#pragma once
// Random-code GPTQ / AWQ checkpoints of real architectures (`qbench fixture
// --format gptq-int4|awq-int4`), written straight from random 4-bit codes at
// their real size, so int4 speed and memory can be measured without a
// download. Valid files of the tools' layouts (sym GPTQ, zero-point AWQ),
// deterministic for a seed.
#include <cstdint>
#include <string>

#include "engines/formats/gptq_awq_writer.h"
#include "engines/model/model_config.h"

namespace qbench {

struct SyntheticInt4Options {
  std::string out_dir;
  uint64_t seed = 0;
  std::string tokenizer_json;  // copied next to the weights ("" = none)
  int64_t group_size = 128;
  uint64_t max_shard_bytes = 4ull << 30;
};

// Writes config.json (+ quantize_config.json for GPTQ), generation_config.json,
// model*.safetensors and the tokenizer. Returns the bytes of tensors written.
uint64_t write_synthetic_int4_checkpoint(const ModelConfig& cfg, Int4FileFormat format, const SyntheticInt4Options& opt);

}  // namespace qbench
