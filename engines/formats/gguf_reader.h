#pragma once
// GGUF v3 reader (llama.cpp model files): header, metadata, tensor infos,
// data section. Everything is validated against the file size before use;
// tensor data stays in the memory map.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engines/formats/gguf_value.h"
#include "engines/formats/mapped_file.h"
#include "engines/quant/ggml_type.h"

namespace qbench {

struct GgufTensor {
  std::string name;
  quant::GgmlType type = quant::GgmlType::F32;
  std::vector<int64_t> dims;  // ne0 first, as GGUF lists them: a [out, in] matrix is {in, out}
  uint64_t offset = 0;        // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;

  int64_t numel() const;
  int64_t rows() const { return dims.empty() ? 1 : numel() / dims[0]; }  // ne1*ne2*ne3
  std::string dims_str() const;
};

class GgufFile {
 public:
  // Maps and parses a file; throws qbench::Error naming the file and the problem.
  explicit GgufFile(const std::string& path);
  // Parses bytes already in memory (tests, fuzzing); `bytes` must outlive this object.
  GgufFile(const uint8_t* bytes, uint64_t size, const std::string& where);

  const std::string& path() const { return where_; }
  uint32_t version() const { return version_; }
  uint64_t file_bytes() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  const GgufValue& require(const std::string& key) const;  // throws naming the key and file
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  const GgufTensor& require_tensor(const std::string& name) const;

  // True when the first bytes of `path` are the GGUF magic.
  static bool has_magic(const std::string& path);

 private:
  void parse(const uint8_t* p, uint64_t size);

  std::shared_ptr<MappedFile> map_;
  std::string where_;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace qbench
