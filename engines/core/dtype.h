#pragma once
// Element types of stored tensors. Block-quantized types (GGUF, GPTQ, AWQ)
// are described by their own layouts in engines/quant; here only the plain ones.
#include <cstddef>
#include <cstdint>
#include <string>

namespace qbench {

enum class DType : uint8_t { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";   case DType::F16: return "F16";
    case DType::BF16: return "BF16"; case DType::F64: return "F64";
    case DType::I8: return "I8";     case DType::U8: return "U8";
    case DType::I16: return "I16";   case DType::I32: return "I32";
    case DType::I64: return "I64";   case DType::BOOL: return "BOOL";
  }
  return "?";
}

}  // namespace qbench
