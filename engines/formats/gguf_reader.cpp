#include "engines/formats/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "engines/core/error.h"

namespace qbench {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxArrayDepth = 4;        // llama.cpp writes depth 1; nested arrays are legal but rare
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

// Bounds-checked little-endian cursor over the file bytes.
class Cursor {
 public:
  Cursor(const uint8_t* p, uint64_t size, const std::string& where) : p_(p), size_(size), where_(where) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": " + what + " (at byte " + std::to_string(pos_) + " of " + std::to_string(size_) + ")");
  }
  void need(uint64_t n, const char* what) const {
    if (n > left()) fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes past the end of the file");
  }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > left()) fail(std::string(what) + ": string length " + std::to_string(n) + " runs past the end of the file");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  uint64_t size_, pos_ = 0;
  const std::string& where_;
};

// Smallest encoding of one value of type t, so that counts can be checked
// against the bytes left before anything is allocated.
uint64_t min_value_bytes(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::STRING: case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& key, int depth) {
  GgufValue v;
  v.type = t;
  switch (t) {
    case GgufType::U8: v.u = c.read<uint8_t>("value"); break;
    case GgufType::I8: v.i = c.read<int8_t>("value"); break;
    case GgufType::U16: v.u = c.read<uint16_t>("value"); break;
    case GgufType::I16: v.i = c.read<int16_t>("value"); break;
    case GgufType::U32: v.u = c.read<uint32_t>("value"); break;
    case GgufType::I32: v.i = c.read<int32_t>("value"); break;
    case GgufType::U64: v.u = c.read<uint64_t>("value"); break;
    case GgufType::I64: v.i = c.read<int64_t>("value"); break;
    case GgufType::F32: v.f = c.read<float>("value"); break;
    case GgufType::F64: v.f = c.read<double>("value"); break;
    case GgufType::BOOL: {
      const uint8_t b = c.read<uint8_t>("value");
      if (b > 1) c.fail("key '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.u = b;
      break;
    }
    case GgufType::STRING: v.s = c.str("string value"); break;
    case GgufType::ARRAY: {
      if (depth >= kMaxArrayDepth) c.fail("key '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayDepth));
      const uint32_t et = c.read<uint32_t>("array type");
      if (!gguf_type_valid(et)) c.fail("key '" + key + "': unknown array element type " + std::to_string(et));
      v.elem = GgufType(et);
      const uint64_t n = c.read<uint64_t>("array length");
      if (n > c.left() / min_value_bytes(v.elem))
        c.fail("key '" + key + "': array of " + std::to_string(n) + " " + gguf_type_name(v.elem) +
               " values cannot fit in the rest of the file");
      v.arr.reserve(static_cast<size_t>(n));
      for (uint64_t k = 0; k < n; ++k) v.arr.push_back(read_value(c, v.elem, key, depth + 1));
      break;
    }
  }
  return v;
}

}  // namespace

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

std::string GgufTensor::dims_str() const {
  std::string s = "{";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "}";
}

GgufFile::GgufFile(const std::string& path) : map_(std::make_shared<MappedFile>(path)), where_(path) {
  parse(map_->data(), map_->size());
}

GgufFile::GgufFile(const uint8_t* bytes, uint64_t size, const std::string& where) : where_(where) { parse(bytes, size); }

bool GgufFile::has_magic(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  uint32_t m = 0;
  if (!f.read(reinterpret_cast<char*>(&m), 4)) return false;
  return m == kMagic;
}

void GgufFile::parse(const uint8_t* p, uint64_t size) {
  size_ = size;
  Cursor c(p, size, where_);
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) c.fail("not a GGUF file (bad magic)");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) c.fail("GGUF version 1 is not supported (only v3; re-convert with a current llama.cpp)");
  if (version_ == 2) c.fail("GGUF version 2 is not supported (only v3; re-convert with a current llama.cpp)");
  if (version_ != 3) c.fail("unknown GGUF version " + std::to_string(version_) + " (only v3 is supported)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key/value takes at least 13 bytes (empty key, type, 1-byte value), each tensor info 28.
  if (n_kv > c.left() / 13) c.fail("metadata count " + std::to_string(n_kv) + " is impossible for the file size");
  if (n_tensors > c.left() / 28) c.fail("tensor count " + std::to_string(n_tensors) + " is impossible for the file size");

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.str("metadata key");
    const uint32_t t = c.read<uint32_t>("metadata value type");
    if (!gguf_type_valid(t)) c.fail("key '" + key + "': unknown value type " + std::to_string(t));
    GgufValue v = read_value(c, GgufType(t), key, 0);
    if (kv_index_.count(key)) c.fail("duplicate metadata key '" + key + "'");
    kv_index_[key] = kv_.size();
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufType::U32) c.fail("general.alignment must be uint32");
    alignment_ = a->u;
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0 || alignment_ > (1u << 20))
      c.fail("general.alignment " + std::to_string(alignment_) + " is not a power of two up to 1 MiB");
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor t;
    t.name = c.str("tensor name");
    const uint32_t nd = c.read<uint32_t>("tensor dimension count");
    if (nd == 0 || nd > kMaxDims)
      c.fail("tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions (1.." + std::to_string(kMaxDims) + " allowed)");
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t ne = c.read<uint64_t>("tensor dimension");
      if (ne == 0 || ne > (uint64_t(1) << 40)) c.fail("tensor '" + t.name + "' has dimension " + std::to_string(ne));
      if (uint64_t(numel) > (uint64_t(1) << 48) / ne) c.fail("tensor '" + t.name + "' has too many elements");
      numel *= int64_t(ne);
      t.dims.push_back(int64_t(ne));
    }
    const uint32_t type = c.read<uint32_t>("tensor type");
    auto tr = quant::type_traits(type);
    if (!tr) c.fail("tensor '" + t.name + "' has unknown ggml type id " + std::to_string(type));
    if (!tr->supported) c.fail("tensor '" + t.name + "' has type " + tr->name + ", which qbench does not support");
    t.type = quant::GgmlType(type);
    if (t.dims[0] % tr->block != 0)
      c.fail("tensor '" + t.name + "' row length " + std::to_string(t.dims[0]) + " is not a multiple of the " + tr->name +
             " block size " + std::to_string(tr->block));
    t.nbytes = uint64_t(numel / tr->block) * uint64_t(tr->block_bytes);
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0)
      c.fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(alignment_));
    if (tensor_index_.count(t.name)) c.fail("duplicate tensor name '" + t.name + "'");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > size && n_tensors > 0) c.fail("data section starts past the end of the file");
  const uint64_t data_size = size > data_offset_ ? size - data_offset_ : 0;

  // Every tensor inside the data section, none overlapping another.
  std::vector<size_t> order(tensors_.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  uint64_t end_prev = 0;
  std::string prev;
  for (size_t k : order) {
    GgufTensor& t = tensors_[k];
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw Error(where_ + ": tensor '" + t.name + "' (" + t.dims_str() + ", " + quant::type_id_name(uint32_t(t.type)) +
                  ", " + std::to_string(t.nbytes) + " bytes at data offset " + std::to_string(t.offset) +
                  ") runs past the end of the file (data section holds " + std::to_string(data_size) + " bytes)");
    if (t.offset < end_prev)
      throw Error(where_ + ": tensor '" + t.name + "' overlaps tensor '" + prev + "'");
    end_prev = t.offset + t.nbytes;
    prev = t.name;
    t.data = p + data_offset_ + t.offset;
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufValue& GgufFile::require(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error(where_ + ": missing metadata key '" + key + "'");
  return *v;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::require_tensor(const std::string& name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) throw Error(where_ + ": missing tensor '" + name + "'");
  return *t;
}

}  // namespace qbench
