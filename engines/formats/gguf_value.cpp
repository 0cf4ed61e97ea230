#include "engines/formats/gguf_value.h"

#include <limits>

#include "engines/core/error.h"

namespace qbench {

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32",  "float32",
                                "bool",  "string", "array",  "uint64", "int64", "float64"};
  return uint32_t(t) <= 12 ? names[uint32_t(t)] : "?";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: case GgufType::BOOL: return true;
    default: return false;
  }
}

static bool is_signed(GgufType t) {
  return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

int64_t GgufValue::to_int(const std::string& key) const {
  if (!is_integer()) throw Error("GGUF key '" + key + "' is " + gguf_type_name(type) + ", expected an integer");
  if (is_signed(type)) return i;
  if (u > uint64_t(std::numeric_limits<int64_t>::max())) throw Error("GGUF key '" + key + "' is out of range");
  return int64_t(u);
}

double GgufValue::to_double(const std::string& key) const {
  if (type == GgufType::F32 || type == GgufType::F64) return f;
  return double(to_int(key));
}

const std::string& GgufValue::to_string(const std::string& key) const {
  if (type != GgufType::STRING) throw Error("GGUF key '" + key + "' is " + gguf_type_name(type) + ", expected a string");
  return s;
}

std::vector<std::string> GgufValue::to_strings(const std::string& key) const {
  if (type != GgufType::ARRAY || elem != GgufType::STRING)
    throw Error("GGUF key '" + key + "' is not an array of strings");
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (auto& v : arr) out.push_back(v.s);
  return out;
}

std::vector<int64_t> GgufValue::to_ints(const std::string& key) const {
  if (type != GgufType::ARRAY) throw Error("GGUF key '" + key + "' is not an array");
  std::vector<int64_t> out;
  out.reserve(arr.size());
  for (auto& v : arr) out.push_back(v.to_int(key));
  return out;
}

std::string GgufValue::describe() const {
  switch (type) {
    case GgufType::STRING: return s.size() > 60 ? "\"" + s.substr(0, 57) + "...\"" : "\"" + s + "\"";
    case GgufType::ARRAY: return std::string("[") + gguf_type_name(elem) + " x " + std::to_string(arr.size()) + "]";
    case GgufType::F32: case GgufType::F64: return std::to_string(f);
    case GgufType::BOOL: return u ? "true" : "false";
    default: return is_signed(type) ? std::to_string(i) : std::to_string(u);
  }
}

}  // namespace qbench
