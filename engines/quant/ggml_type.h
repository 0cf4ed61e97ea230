#pragma once
// ggml tensor types as GGUF stores them (type ids are the file format's, from
// ggml.h): which ones qbench reads, their block size and bytes per block.
#include <cstdint>
#include <optional>
#include <string>

namespace qbench::quant {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

struct TypeTraits {
  const char* name;     // "q4_k" (lower case as in llama.cpp's type names)
  int64_t block;        // elements per block
  int64_t block_bytes;  // bytes per block
  bool supported;       // qbench has dequant + dot kernels for it
};

// Traits for a raw type id from a file; nullopt for ids ggml never assigned
// (a known-but-unsupported id gives traits with supported = false).
std::optional<TypeTraits> type_traits(uint32_t id);
const TypeTraits& traits(GgmlType t);  // t must be a known type
inline const char* type_name(GgmlType t) { return traits(t).name; }
// Name for messages, also for ids that are not types: "type id 99".
std::string type_id_name(uint32_t id);

// Bytes of a row of n elements; throws qbench::Error when n is not a multiple of the block.
uint64_t row_bytes(GgmlType t, int64_t n);

}  // namespace qbench::quant
