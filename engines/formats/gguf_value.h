#pragma once
// One GGUF metadata value (any of the 13 value types, arrays nested to any
// depth the reader allows) and typed accessors that name the key on mismatch.
#include <cstdint>
#include <string>
#include <vector>

namespace qbench {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);
inline bool gguf_type_valid(uint32_t t) { return t <= 12; }

struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t u = 0;   // unsigned integers and bool
  int64_t i = 0;    // signed integers
  double f = 0;     // F32 / F64
  std::string s;    // STRING
  GgufType elem = GgufType::U8;  // ARRAY element type
  std::vector<GgufValue> arr;    // ARRAY elements

  bool is_integer() const;
  // Integer value (any integer type or bool); throws qbench::Error naming `key` otherwise or when out of int64 range.
  int64_t to_int(const std::string& key) const;
  double to_double(const std::string& key) const;      // integer or float types
  const std::string& to_string(const std::string& key) const;
  std::vector<std::string> to_strings(const std::string& key) const;  // ARRAY of STRING
  std::vector<int64_t> to_ints(const std::string& key) const;         // ARRAY of integers
  std::string describe() const;  // short text for `qbench info`
};

}  // namespace qbench
