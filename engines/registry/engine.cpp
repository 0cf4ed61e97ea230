#include "engines/registry/engine.h"

#include "engines/core/error.h"

namespace qbench {

const Tokenizer& Engine::tokenizer() const {
  if (!tokenizer_) throw Error(info_.path + ": the model files carry no tokenizer (tokenizer.json or GGUF tokenizer.ggml.*)");
  return *tokenizer_;
}

nlohmann::json ModelInfo::to_json(const ModelConfig& cfg, uint64_t weight_bytes) const {
  return {{"path", path},
          {"backend", backend},
          {"format", format},
          {"device", device},
          {"weight_dtype", weight_dtype},
          {"file_bytes", file_bytes},
          {"weight_bytes", weight_bytes},
          {"config", cfg.to_json()},
          {"details", details}};
}

}  // namespace qbench
