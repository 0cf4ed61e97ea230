#include "engines/model/kv_cache.h"

#include <atomic>
#include <cstring>
#include <new>

#include "engines/core/error.h"
#include "engines/model/ops.h"

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

KvBlockPool::KvBlockPool(int64_t layers, int64_t kv_heads, int64_t head_dim, KvType type, int64_t block_tokens,
                         int64_t n_blocks, MemoryAccount* account, Ops* ops)
    : layers_(layers), kv_heads_(kv_heads), head_dim_(head_dim), type_(type), block_tokens_(block_tokens),
      n_blocks_(n_blocks), elem_(type == KvType::F16 ? 2 : 4), account_(account), ops_(ops) {
  if (block_tokens <= 0 || n_blocks <= 0 || n_blocks > INT32_MAX) throw Error("KV pool needs a positive number of blocks");
  static std::atomic<uint64_t> next_serial{1};
  serial_ = next_serial++;
  block_bytes_ = uint64_t(block_tokens) * row_elems() * elem_;
  bytes_ = block_bytes_ * uint64_t(n_blocks) * 2 * uint64_t(layers);
  try {
    if (ops_) {
      data_ = static_cast<uint8_t*>(ops_->alloc(bytes_));
    } else {
      host_.resize(bytes_);  // zero-filled; slots past a sequence's length are never read (causal mask)
      data_ = host_.data();
    }
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("cannot allocate the KV cache: " + std::to_string(bytes_ >> 20) + " MiB for " +
                          std::to_string(block_tokens * n_blocks) + " tokens",
                      bytes_, 0);
  }
  free_.reserve(size_t(n_blocks));
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));  // hand out low ids first
  if (account_) account_->add(MemCategory::KvCache, int64_t(bytes_));
}

KvBlockPool::~KvBlockPool() {
  if (ops_ && data_) ops_->release(data_);
  if (account_) account_->sub(MemCategory::KvCache, int64_t(bytes_));
}

int32_t KvBlockPool::alloc_block() {
  if (free_.empty()) return -1;
  const int32_t b = free_.back();
  free_.pop_back();
  return b;
}

void KvBlockPool::free_block(int32_t block) {
  if (block < 0 || block >= n_blocks_) throw Error("freeing a KV block that does not exist");
  free_.push_back(block);
}

KvCache::KvCache(int64_t layers, int64_t max_tokens, int64_t kv_heads, int64_t head_dim, KvType type,
                 MemoryAccount* account, Ops* ops)
    : pool_(std::make_shared<KvBlockPool>(layers, kv_heads, head_dim, type, max_tokens, 1, account, ops)) {
  blocks_.push_back(pool_->alloc_block());
}

KvCache::KvCache(std::shared_ptr<KvBlockPool> pool) : pool_(std::move(pool)) {}

KvCache::~KvCache() { release(); }

bool KvCache::reserve(int64_t tokens) {
  const int64_t bt = pool_->block_tokens();
  const int64_t need = (tokens + bt - 1) / bt - int64_t(blocks_.size());
  if (need <= 0) return true;
  if (need > pool_->free_blocks()) return false;
  for (int64_t i = 0; i < need; ++i) blocks_.push_back(pool_->alloc_block());
  return true;
}

void KvCache::release() {
  for (int32_t b : blocks_) pool_->free_block(b);
  blocks_.clear();
}

void KvCache::copy_prefix_from(const KvCache& o, int64_t n) {
  if (o.pool_->layers() != pool_->layers() || o.row_elems() != row_elems() || o.type() != type() || n > max_tokens() ||
      n > o.max_tokens())
    throw Error("KV prefix copy between caches of different shapes");
  // Host memory only; device pools copy through their Ops (not needed yet).
  const uint64_t row = uint64_t(row_elems()) * pool_->elem_bytes();
  for (int64_t l = 0; l < pool_->layers(); ++l)
    for (int kv = 0; kv < 2; ++kv)
      for (int64_t p = 0; p < n; ++p) std::memcpy(this->row(l, kv, p), o.row(l, kv, p), row);
}

}  // namespace qbench
