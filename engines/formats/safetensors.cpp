#include "engines/formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"

namespace qbench {

DType safetensors_dtype(const std::string& s, const std::string& where) {
  static const std::map<std::string, DType> kTypes = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I8", DType::I8},   {"U8", DType::U8},   {"I16", DType::I16},   {"I32", DType::I32},
      {"I64", DType::I64}, {"BOOL", DType::BOOL}};
  auto it = kTypes.find(s);
  if (it == kTypes.end()) throw Error(where + ": unknown dtype '" + s + "'");
  return it->second;
}

namespace {

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& where) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) throw Error(where + ": shape overflows 64 bits");
  return a * b;
}

uint64_t as_u64(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<uint64_t>();
    throw Error(where + " must be a non-negative integer");
  }
  return v.get<uint64_t>();
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  const uint64_t size = file_->size();
  if (size < 8) throw Error(path + ": truncated safetensors file (" + std::to_string(size) + " bytes, no header length)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_->data(), 8);  // little-endian on every platform we build for
  if (header_len > kMaxHeaderBytes)
    throw Error(path + ": safetensors header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  if (header_len > size - 8)
    throw Error(path + ": safetensors header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(size) + " bytes)");
  const char* hdr = reinterpret_cast<const char*>(file_->data() + 8);
  if (header_len < 2 || hdr[0] != '{') throw Error(path + ": safetensors header is not a JSON object");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(hdr, hdr + header_len);  // rejects invalid UTF-8 in names
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed safetensors header: " + e.what());
  }
  if (!j.is_object()) throw Error(path + ": safetensors header is not a JSON object");

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  struct Span { uint64_t begin, end; const std::string* name; };
  std::vector<Span> spans;

  for (auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(path + ": __metadata__ must be an object of strings");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw Error(path + ": __metadata__['" + k + "'] is not a string");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw Error(where + " needs dtype, shape and data_offsets");
    if (!entry["dtype"].is_string()) throw Error(where + ": dtype is not a string");
    TensorRef t;
    t.name = name;
    t.file = path;
    t.dtype = safetensors_dtype(entry["dtype"].get<std::string>(), where);
    const auto& shape = entry["shape"];
    if (!shape.is_array()) throw Error(where + ": shape is not an array");
    uint64_t numel = 1;
    for (auto& d : shape) {
      const uint64_t v = as_u64(d, where + ": shape entries");
      if (v > uint64_t(std::numeric_limits<int64_t>::max())) throw Error(where + ": dimension too large");
      t.shape.push_back(int64_t(v));
      numel = checked_mul(numel, v, where);
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2) throw Error(where + ": data_offsets must be [begin, end]");
    const uint64_t begin = as_u64(off[0], where + ": data_offsets"), end = as_u64(off[1], where + ": data_offsets");
    if (begin > end) throw Error(where + ": data_offsets begin > end");
    if (end > data_size)
      throw Error(where + ": data [" + std::to_string(begin) + ", " + std::to_string(end) + ") lies past the end of the file (" +
                  std::to_string(data_size) + " data bytes; truncated file?)");
    const uint64_t expect = checked_mul(numel, dtype_size(t.dtype), where);
    if (end - begin != expect)
      throw Error(where + ": " + entry["dtype"].get<std::string>() + " " + t.shape_str() + " needs " + std::to_string(expect) +
                  " bytes but data_offsets span " + std::to_string(end - begin));
    t.data = file_->data() + data_start + begin;
    t.nbytes = expect;
    auto [it, inserted] = tensors_.emplace(name, std::move(t));
    if (!inserted) throw Error(where + " appears twice");
    if (end > begin) spans.push_back({begin, end, &it->first});
  }

  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      throw Error(path + ": tensors '" + *spans[i - 1].name + "' and '" + *spans[i].name + "' overlap");
}

const TensorRef* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

}  // namespace qbench
