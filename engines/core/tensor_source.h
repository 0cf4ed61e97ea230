#pragma once
// What a checkpoint reader hands to the model builder: named tensors, each a
// typed view into (usually memory-mapped) file bytes. Readers validate before
// they hand anything out, so a TensorRef is always inside its file.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/core/dtype.h"

namespace qbench {

struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first (row-major), as safetensors stores it
  const void* data = nullptr;
  uint64_t nbytes = 0;
  std::string file;  // where it lives, for error messages

  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  std::string shape_str() const {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // nullptr when absent.
  virtual const TensorRef* find(const std::string& name) const = 0;
  virtual std::vector<std::string> names() const = 0;
  // Sum of the bytes of the files behind this source.
  virtual uint64_t file_bytes() const = 0;

  // Throws a qbench::Error naming the tensor when it is missing.
  const TensorRef& require(const std::string& name) const;
};

}  // namespace qbench
