#pragma once
// The non-matrix operations of the transformer, per device, and the device's
// memory. The transformer calls these and Linear::forward; engines/cpu (and
// engines/cuda) implement them. Pointers are to the device's memory.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engines/model/kv_cache.h"
#include "engines/model/sampler.h"

namespace qbench {

class Ops {
 public:
  virtual ~Ops() = default;
  // Memory. alloc throws qbench::OutOfMemory with the numbers when the device is full.
  virtual void* alloc(size_t bytes) = 0;
  virtual void release(void* p) = 0;
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;
  // True when device pointers are host pointers (results need no download).
  virtual bool host_memory() const = 0;
  // Waits for queued work (no-op on the CPU).
  virtual void synchronize() {}
  // y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w
  virtual void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) = 0;
  // y[r, :] += b
  virtual void add_bias(float* y, const float* b, int64_t rows, int64_t dim) = 0;
  // Rotary embedding as transformers applies it (rotate_half over the whole head):
  // x[rows, n_heads, head_dim], row r is at position pos[r].
  virtual void rope(float* x, int64_t rows, int64_t n_heads, int64_t head_dim, const int32_t* pos, double theta) = 0;
  // Stores k, v [rows, kv_heads*head_dim] into the cache of `layer` at positions pos0..pos0+rows.
  virtual void kv_store(KvCache& kv, int64_t layer, int64_t pos0, const float* k, const float* v, int64_t rows) = 0;
  // Causal GQA attention of q [rows, heads*head_dim] at positions pos0.. over cache positions [0, pos0+rows).
  virtual void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows,
                         int64_t n_heads) = 0;
  // One sequence of a batched pass: its rows [row0, row0 + rows) of the stacked k/v/q/out, at positions pos0...
  struct SeqRows {
    KvCache* kv;
    int64_t pos0, rows, row0;
  };
  // kv_store then attention for every sequence of a batched pass (issue 9). The default runs them one
  // sequence at a time; a device may do all sequences in one launch each (their caches are disjoint).
  virtual void attention_batch(int64_t layer, const SeqRows* seqs, int64_t count, const float* k, const float* v,
                               const float* q, float* out, int64_t n_heads) {
    for (int64_t i = 0; i < count; ++i) {
      const SeqRows& s = seqs[i];
      const int64_t kvd = s.kv->row_elems(), qd = n_heads * s.kv->head_dim();
      kv_store(*s.kv, layer, s.pos0, k + s.row0 * kvd, v + s.row0 * kvd, s.rows);
      attention(*s.kv, layer, s.pos0, q + s.row0 * qd, out + s.row0 * qd, s.rows, n_heads);
    }
  }
  // host_out[r] = index of the largest of x[r, 0..n) (lowest index on ties, as argmax()): greedy
  // sampling where the values are, so a device returns token ids instead of logits.
  virtual void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* host_out) {
    const float* h = x;
    std::vector<float> copy;
    if (!host_memory()) {
      copy.resize(size_t(rows * n));
      download(copy.data(), x, copy.size() * sizeof(float));
      h = copy.data();
    }
    for (int64_t r = 0; r < rows; ++r) host_out[r] = argmax(h + r * n, n);
  }
  // Pipelined greedy decode (Transformer::decode_greedy) for devices that keep the sampled ids where the logits
  // are: argmax_rows_device queues the argmax of x's rows into `ids` (device memory; the next step's embedding
  // lookup reads them there, Linear::gather_rows_device) and a copy of them to the host, and returns a ticket;
  // submit() starts what is queued without waiting; wait_ids(ticket) blocks until that copy has arrived and
  // hands the ids over. So the host builds step i + 1 while the device runs step i. Devices without it say
  // false and keep the synchronous argmax_rows.
  virtual bool pipelined_greedy() const { return false; }
  virtual uint64_t argmax_rows_device(const float* x, int64_t rows, int64_t n, int32_t* ids);
  virtual void submit() {}
  virtual void wait_ids(uint64_t ticket, int32_t* host_out, int64_t rows);
  // out = silu(gate) * up, elementwise over n values
  virtual void silu_mul(const float* gate, const float* up, float* out, int64_t n) = 0;
  // y += x over n values
  virtual void add(float* y, const float* x, int64_t n) = 0;
  // x[0..n) will not be read again before it is next written (called after its last reader): a device whose
  // Linears read a 16-bit copy of x may then skip writing x itself (CUDA: half_copy.h release_f32).
  virtual void release(const float* x, int64_t n) { (void)x, (void)n; }
};

}  // namespace qbench
