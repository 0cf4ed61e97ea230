#pragma once
// Writes safetensors files (single or sharded with model.safetensors.index.json)
// the way Hugging Face does. Tensor bytes are produced one tensor at a time by
// a callback, so multi-GB checkpoints never sit in memory whole. Each file is
// written to a temporary name and renamed into place when complete.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engines/core/dtype.h"

namespace qbench {

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::function<void(uint8_t* dst, uint64_t nbytes)> fill;
  uint64_t nbytes() const;
};

// Writes dir/model.safetensors, or when the total exceeds max_shard_bytes,
// dir/model-0000i-of-0000n.safetensors plus dir/model.safetensors.index.json.
// Returns the paths written.
std::vector<std::string> write_safetensors_checkpoint(const std::string& dir, const std::vector<TensorToWrite>& tensors,
                                                      const std::map<std::string, std::string>& metadata,
                                                      uint64_t max_shard_bytes);

}  // namespace qbench
