#pragma once
// Causal GQA attention over the paged KV cache on the device.
#include <cstdint>
#include <functional>

#include "engines/model/kv_cache.h"
#include "engines/model/ops.h"

namespace qbench::cuda {

// q, out: device [rows, n_heads*head_dim]; positions pos0..pos0+rows attend over [0, pos+1).
// pos0 and the block table are staged (launch_queue.h) and read on the device,
// so a decode step's launch does not change with the position. Few query rows
// are split over the context (partial softmax per split, then a combine pass);
// the split count follows the cache's capacity, not the position, for the same reason.
// With an F16 cache, more than 4 rows go to the flash kernel (attention_flash_cuda.h; QBENCH_CUDA_FLASH=0: not).
void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows, int64_t n_heads);

// The store of a batched pass's K and V rows into their cache slots (slot s at s * row_elems of kb / vb), which
// attention_batch queues first unless `fold` takes it into a launch queued before (CudaOps: the RoPE over q
// and k, which then writes the rotated k and v straight into the cache).
struct KvRowStore {
  void* kb;
  void* vb;
  const int32_t* slots;  // staged, one per row
  int64_t row_elems, rows;
  const float* k;
  const float* v;
  bool f32;
};

// kv_store + attention for several sequences of one batched pass (issue 9), two launches in all:
// every row's K/V into its slot, then one block per (sequence row, KV head, split of the context)
// that reads each K and V row of its split once for all query heads of the group (GQA), and a
// combine pass for rows split more than once. Decode rows are split so the grid fills the GPU. With an F16
// cache the same tasks run on the tensor cores and prefill sequences (> 4 rows) on the flash kernel, queued as
// one launch with the others.
// A lone sequence takes it when it decodes (≤ 4 rows: every K/V row read once for its GQA group, not once per
// query head; QBENCH_CUDA_GROUPED_DECODE=0 leaves it to attention() for A/Bs), not for a prefill.
// All sequences must share one pool; false (nothing queued) where this kernel does not apply
// (a lone prefill, sequences in different pools, head_dim % 8 != 0 or > 256, more than 8 query heads per KV
// head): the caller then goes one sequence at a time.
bool attention_batch(int64_t layer, const Ops::SeqRows* seqs, int64_t count, const float* k, const float* v,
                     const float* q, float* out, int64_t n_heads,
                     const std::function<bool(const KvRowStore&)>& fold = nullptr);

// [pos0, block table...] staged as one blob (one slot, so a full arena can
// flush between launches, never between the two halves): p[0] = pos0, p + 1 = table.
const int32_t* stage_pos_and_table(const KvCache& kv, int64_t pos0);

}  // namespace qbench::cuda
