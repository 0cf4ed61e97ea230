#pragma once
// The small files beside an HF checkpoint's weights, written the same way by
// every writer (synthetic, GPTQ/AWQ): each to a temporary name, then renamed.
#include <string>

#include "engines/model/model_config.h"

namespace qbench {

// Whole-file write to path.tmp + rename; throws qbench::Error naming the path.
void write_text_file_atomic(const std::string& path, const std::string& text);

// config.json (the given text), generation_config.json (bos/eos of cfg), and,
// when tokenizer_json is non-empty, tokenizer.json plus the tokenizer_config.json beside it.
void write_hf_side_files(const std::string& dir, const std::string& config_json, const ModelConfig& cfg,
                         const std::string& tokenizer_json);

}  // namespace qbench
