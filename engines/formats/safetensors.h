#pragma once
// A validated, memory-mapped safetensors file
// (https://github.com/huggingface/safetensors: u64 header length, JSON header,
// data). Every header field is checked before any tensor is handed out.
#include <map>
#include <memory>
#include <string>

#include "engines/core/tensor_source.h"
#include "engines/formats/mapped_file.h"

namespace qbench {

class SafetensorsFile : public TensorSource {
 public:
  // Largest header accepted (the reference implementation uses 100 MB).
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

  explicit SafetensorsFile(const std::string& path);  // throws qbench::Error naming the file

  const TensorRef* find(const std::string& name) const override;
  std::vector<std::string> names() const override;
  uint64_t file_bytes() const override { return file_->size(); }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorRef> tensors_;
  std::map<std::string, std::string> metadata_;
};

// DType from a safetensors dtype string; throws on unknown names.
DType safetensors_dtype(const std::string& s, const std::string& where);

}  // namespace qbench
