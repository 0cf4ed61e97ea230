#pragma once
// What `qbench plan --model M` names: a catalog shape (qwen2.5-7b, llama-3-70b, ...)
// or a Hugging Face config.json / checkpoint directory.
#include <string>

#include "engines/model/model_config.h"

namespace qbench::plan {

// Throws qbench::Error naming M when it is neither.
ModelConfig resolve_model_config(const std::string& m);

}  // namespace qbench::plan
