#pragma once
// Writes GGUF v3 files: metadata in insertion order, tensor infos, aligned
// data. Tensor bytes come from a callback so that multi-GB files (synthetic
// 7B fixtures, quantizer output) are produced one tensor at a time.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engines/formats/gguf_value.h"
#include "engines/quant/ggml_type.h"

namespace qbench {

class GgufWriter {
 public:
  using Fill = std::function<void(uint8_t* dst, uint64_t nbytes)>;

  void set(const std::string& key, GgufValue v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_str(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);

  // dims ne0 first; nbytes is derived from type and dims.
  void add_tensor(const std::string& name, quant::GgmlType type, std::vector<int64_t> dims, Fill fill);
  void add_tensor(const std::string& name, quant::GgmlType type, std::vector<int64_t> dims, const void* data);

  // Writes the file (atomically: to path.tmp, then renamed); returns its size.
  uint64_t write(const std::string& path) const;
  std::vector<uint8_t> to_bytes() const;  // the whole file in memory (tests)
  uint64_t data_bytes() const;            // sum of tensor bytes

 private:
  struct Tensor {
    std::string name;
    quant::GgmlType type;
    std::vector<int64_t> dims;
    uint64_t nbytes, offset;
    Fill fill;
  };
  std::string header() const;
  uint64_t alignment() const;

  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
  uint64_t next_offset_ = 0;
};

}  // namespace qbench
