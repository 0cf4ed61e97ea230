#pragma once
// Key/value cache of one sequence: per layer, K and V as [max_tokens, kv_heads, head_dim]
// in F16 (as llama.cpp and most serving engines keep it) or F32 (exact reference math).
#include <cstdint>
#include <string>
#include <vector>

#include "engines/core/dtype.h"
#include "engines/model/memory_account.h"

namespace qbench {

enum class KvType { F16, F32 };
KvType parse_kv_type(const std::string& s);  // "f16" | "f32"
const char* kv_type_name(KvType t);

class KvCache {
 public:
  KvCache(int64_t layers, int64_t max_tokens, int64_t kv_heads, int64_t head_dim, KvType type, MemoryAccount* account);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  KvType type() const { return type_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_heads() const { return kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t row_elems() const { return kv_heads_ * head_dim_; }
  uint64_t bytes() const { return bytes_; }
  static uint64_t bytes_per_token(int64_t layers, int64_t kv_heads, int64_t head_dim, KvType t);

  // Start of layer's K (or V) storage; element type per type().
  void* k(int64_t layer) { return data_.data() + layer_off(layer, 0); }
  void* v(int64_t layer) { return data_.data() + layer_off(layer, 1); }
  const void* k(int64_t layer) const { return data_.data() + layer_off(layer, 0); }
  const void* v(int64_t layer) const { return data_.data() + layer_off(layer, 1); }

  // Copies positions [0, n) of every layer from another cache of the same shape (prefix reuse).
  void copy_prefix_from(const KvCache& other, int64_t n);

 private:
  uint64_t layer_off(int64_t layer, int kv) const {
    return (uint64_t(layer) * 2 + kv) * uint64_t(max_tokens_) * row_elems() * elem_;
  }
  int64_t layers_, max_tokens_, kv_heads_, head_dim_;
  KvType type_;
  uint64_t elem_, bytes_;
  std::vector<uint8_t> data_;
  MemoryAccount* account_;
};

}  // namespace qbench
