#include "engines/model/kv_cache.h"

#include <cstring>
#include <new>

#include "engines/core/error.h"

namespace qbench {

KvType parse_kv_type(const std::string& s) {
  if (s == "f16") return KvType::F16;
  if (s == "f32") return KvType::F32;
  throw Error("unknown KV cache type '" + s + "' (f16 or f32)");
}

const char* kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }

uint64_t KvCache::bytes_per_token(int64_t layers, int64_t kv_heads, int64_t head_dim, KvType t) {
  return uint64_t(layers) * 2 * kv_heads * head_dim * (t == KvType::F16 ? 2 : 4);
}

KvCache::KvCache(int64_t layers, int64_t max_tokens, int64_t kv_heads, int64_t head_dim, KvType type,
                 MemoryAccount* account)
    : layers_(layers), max_tokens_(max_tokens), kv_heads_(kv_heads), head_dim_(head_dim), type_(type),
      elem_(type == KvType::F16 ? 2 : 4), account_(account) {
  bytes_ = bytes_per_token(layers, kv_heads, head_dim, type) * uint64_t(max_tokens);
  try {
    data_.resize(bytes_);  // zero-filled: untouched positions are never read (causal mask)
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("cannot allocate the KV cache: " + std::to_string(bytes_ >> 20) + " MiB for " +
                          std::to_string(max_tokens) + " tokens",
                      bytes_, 0);
  }
  if (account_) account_->add(MemCategory::KvCache, int64_t(bytes_));
}

KvCache::~KvCache() {
  if (account_) account_->sub(MemCategory::KvCache, int64_t(bytes_));
}

void KvCache::copy_prefix_from(const KvCache& o, int64_t n) {
  if (o.layers_ != layers_ || o.row_elems() != row_elems() || o.type_ != type_ || n > max_tokens_ || n > o.max_tokens_)
    throw Error("KV prefix copy between caches of different shapes");
  const uint64_t bytes = uint64_t(n) * row_elems() * elem_;
  for (int64_t l = 0; l < layers_; ++l) {
    std::memcpy(k(l), o.k(l), bytes);
    std::memcpy(v(l), o.v(l), bytes);
  }
}

}  // namespace qbench
