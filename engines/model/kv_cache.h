#pragma once
// Paged key/value cache. A KvBlockPool owns fixed-size blocks of token slots
// (per layer, K and V as [block_tokens, kv_heads, head_dim], F16 as llama.cpp
// and serving engines keep them, or F32 for exact reference math). A KvCache is
// one sequence's block table into a pool: many sequences share one pool
// (batched serving, issue 9), or a sequence gets a private pool sized exactly
// for it (the single-sequence workloads).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engines/model/memory_account.h"

namespace qbench {

class Ops;

enum class KvType { F16, F32 };
KvType parse_kv_type(const std::string& s);  // "f16" | "f32"
const char* kv_type_name(KvType t);

class KvBlockPool {
 public:
  static constexpr int64_t kDefaultBlockTokens = 16;

  // Storage comes from `ops` (device memory) when given, else from the host heap.
  KvBlockPool(int64_t layers, int64_t kv_heads, int64_t head_dim, KvType type, int64_t block_tokens, int64_t n_blocks,
              MemoryAccount* account, Ops* ops = nullptr);
  ~KvBlockPool();
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  int32_t alloc_block();          // -1 when every block is in use (back-pressure, never a crash)
  void free_block(int32_t block);
  int64_t total_blocks() const { return n_blocks_; }
  int64_t free_blocks() const { return int64_t(free_.size()); }
  int64_t block_tokens() const { return block_tokens_; }

  KvType type() const { return type_; }
  int64_t layers() const { return layers_; }
  int64_t kv_heads() const { return kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t row_elems() const { return kv_heads_ * head_dim_; }
  uint64_t elem_bytes() const { return elem_; }
  uint64_t bytes() const { return bytes_; }
  // Unique per pool in the process, never reused: a cache keyed by the pool's address could meet another pool
  // (another capacity, element type or shape) allocated where a freed one was.
  uint64_t serial() const { return serial_; }

  // Start of a block's K (kv=0) or V (kv=1) rows for a layer.
  uint8_t* block_data(int64_t layer, int kv, int32_t block) const {
    return data_ + ((uint64_t(layer) * 2 + kv) * uint64_t(n_blocks_) + uint64_t(block)) * block_bytes_;
  }

 private:
  int64_t layers_, kv_heads_, head_dim_;
  KvType type_;
  int64_t block_tokens_, n_blocks_;
  uint64_t elem_, block_bytes_, bytes_;
  uint8_t* data_ = nullptr;
  uint64_t serial_;
  std::vector<uint8_t> host_;
  std::vector<int32_t> free_;
  MemoryAccount* account_;
  Ops* ops_;
};

class KvCache {
 public:
  // A private pool of exactly max_tokens slots (one block), all reserved.
  KvCache(int64_t layers, int64_t max_tokens, int64_t kv_heads, int64_t head_dim, KvType type, MemoryAccount* account,
          Ops* ops = nullptr);
  // A sequence in a shared pool; it holds no blocks until reserve().
  explicit KvCache(std::shared_ptr<KvBlockPool> pool);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Makes room for `tokens` positions; all or nothing. False when the pool
  // has too few free blocks (the caller waits or preempts).
  bool reserve(int64_t tokens);
  // Returns every block to the pool.
  void release();

  int64_t max_tokens() const { return int64_t(blocks_.size()) * pool_->block_tokens(); }
  const std::vector<int32_t>& blocks() const { return blocks_; }
  KvBlockPool& pool() const { return *pool_; }
  KvType type() const { return pool_->type(); }
  int64_t kv_heads() const { return pool_->kv_heads(); }
  int64_t head_dim() const { return pool_->head_dim(); }
  int64_t row_elems() const { return pool_->row_elems(); }
  uint64_t bytes() const { return uint64_t(max_tokens()) * pool_->row_elems() * pool_->elem_bytes() * 2 * pool_->layers(); }
  static uint64_t bytes_per_token(int64_t layers, int64_t kv_heads, int64_t head_dim, KvType t);

  // K (kv=0) or V (kv=1) row of `pos` in `layer`; element type per type().
  uint8_t* row(int64_t layer, int kv, int64_t pos) const {
    const int64_t bt = pool_->block_tokens();
    return pool_->block_data(layer, kv, blocks_[size_t(pos / bt)]) + uint64_t(pos % bt) * pool_->row_elems() * pool_->elem_bytes();
  }

  // Copies positions [0, n) of every layer from another cache of the same shape (prefix reuse).
  void copy_prefix_from(const KvCache& other, int64_t n);

 private:
  std::shared_ptr<KvBlockPool> pool_;
  std::vector<int32_t> blocks_;
};

}  // namespace qbench
