#pragma once
// A Hugging Face checkpoint directory: config.json plus model.safetensors or
// shards listed in model.safetensors.index.json. All shards are validated
// and mapped; the directory behaves as one TensorSource.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engines/formats/safetensors.h"
#include "engines/model/model_config.h"

namespace qbench {

class HfCheckpoint : public TensorSource {
 public:
  explicit HfCheckpoint(const std::string& dir);  // throws qbench::Error

  const TensorRef* find(const std::string& name) const override;
  std::vector<std::string> names() const override;
  uint64_t file_bytes() const override;

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  const std::string& config_text() const { return config_text_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  std::string dir_;
  std::string config_text_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsFile*> where_;
};

// Reads a whole small text file (config/index JSON); throws qbench::Error naming it.
std::string read_text_file(const std::string& path, uint64_t max_bytes = 64ull << 20);

}  // namespace qbench
