#pragma once
// What workloads drive: a loaded model (transformer on a device), its
// tokenizer when the files carry one, and a description for results.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/tokenizer/tokenizer.h"
#include "engines/model/transformer.h"

namespace qbench {

struct LoadOptions {
  std::string path;
  std::string backend = "auto";  // see known_backends(); "auto" detects from the files
  std::string device = "cpu";
  int threads = 0;               // 0 = all cores (OpenMP default)
  int64_t max_chunk = 512;       // tokens per forward pass during prefill
};

struct ModelInfo {
  std::string path;
  std::string backend;   // registry name, e.g. "fp16", "gguf-q4_k_m"
  std::string format;    // file format, e.g. "hf-safetensors", "gguf"
  std::string device;    // "cpu"
  std::string weight_dtype;  // e.g. "f16", "bf16", "q4_k+q6_k"
  uint64_t file_bytes = 0;
  nlohmann::json details = nlohmann::json::object();  // format-specific (quantization config, tensor types...)
  nlohmann::json to_json(const ModelConfig& cfg, uint64_t weight_bytes) const;
};

class Engine {
 public:
  Engine(ModelInfo info, std::unique_ptr<Transformer> model, std::optional<Tokenizer> tokenizer)
      : info_(std::move(info)), model_(std::move(model)), tokenizer_(std::move(tokenizer)) {}

  const ModelInfo& info() const { return info_; }
  const ModelConfig& config() const { return model_->config(); }
  Transformer& model() { return *model_; }
  bool has_tokenizer() const { return tokenizer_.has_value(); }
  // Throws a qbench::Error when the model files carry no tokenizer.
  const Tokenizer& tokenizer() const;
  nlohmann::json describe() const { return info_.to_json(config(), model_->weights().weight_bytes()); }

 private:
  ModelInfo info_;
  std::unique_ptr<Transformer> model_;
  std::optional<Tokenizer> tokenizer_;
};

}  // namespace qbench
