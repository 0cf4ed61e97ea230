#pragma once
// Architectures of well-known released models, for synthetic checkpoints
// (`qbench fixture --shape`) and for planning without the files.
#include <string>
#include <vector>

#include "engines/model/model_config.h"

namespace qbench {

// Names: tiny, qwen2.5-0.5b, qwen2.5-1.5b, qwen2.5-3b, qwen2.5-7b, qwen2.5-14b,
// qwen2.5-32b, qwen2.5-72b, llama-3-8b, llama-3-70b. Throws on unknown names.
ModelConfig shape_config(const std::string& name);
std::vector<std::string> shape_names();

}  // namespace qbench
