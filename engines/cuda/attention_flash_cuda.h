#pragma once
// Attention on the tensor cores (flash-attention style) over the paged F16 cache, causal, GQA. Prefill: query
// tiles of up to 64 rows, a block per (tile, query head), a warp per 16 query rows. Decode rows of a batched
// pass: a block per (row, split of its context, KV head) whose MMA rows are the group's query heads, so each
// K/V row is read once for the group. K and V tiles of 64 keys go through shared memory (cp.async,
// double-buffered) into ldmatrix + mma.sync; online softmax in FP32.
// Q and P enter the tensor cores as FP16 hi + lo pairs (~22 bits each, two MMAs), so the result stays near
// FP32 math over the FP16 cache, as the scalar kernels are (attention_cuda.cu keeps decode rows and F32 caches).
// Include from CUDA sources only.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engines/cuda/half_copy.h"

namespace qbench::cuda {

constexpr int kFlashTileRows = 64;

// Whether the flash kernel takes this head_dim (a multiple of 16, at most 128).
bool flash_attention_supports(int64_t head_dim);

struct FlashArgs {
  const void* k;  // the layer's K rows (__half): slot s at s * row_elems
  const void* v;
  int64_t block_tokens, row_elems;
  // Several sequences: one task {sequence, first row, rows (<= 64), 0} per tile and, per sequence,
  // {first stacked row, pos0, offset of its block table in `tables`, unused}.
  const int4* tasks;
  const int4* seqs;
  const int32_t* tables;
  // One sequence (tasks == nullptr): [pos0, block table...] on the device, and its row count.
  const int32_t* pos0_table;
  int rows;
  int n_tiles;  // grid.x: tiles (prefill) or tasks (decode)
  const float* q;
  float* out;
  int n_heads, group, head_dim;
  // Decode: tasks are {sequence, row, split, splits} over seqs {first stacked row, pos0, table offset, split
  // length}; rows split more than once write (max, sum, unnormalised acc) per (task, head) here, as
  // attention_cuda.cu's batched kernel does, for its combine pass.
  float* part = nullptr;
  // Decode, where this kernel writes all of out (no row split, or clustered): out in the form the o projection
  // asked for too (half_copy.h), where its type is set. The caller offers FP16 only without splits (one value
  // per thread); the clustered merge writes every form the combine pass does.
  HalfOut form{};
  // Decode, every row split `cluster` times (2..kFlashClusterMax; 0: not clustered): the splits of a row and
  // KV head run as one thread-block cluster and merge through each other's shared memory
  // (split_combine.cuh), so no partials reach global memory and no combine pass follows.
  // Any GQA group: a block merges several query heads where the group outnumbers the splits.
  int cluster = 0;
  bool skip_merge = false;  // clustered: QBENCH_DEBUG_SKIP=combine leaves the merge out (wrong results; timing only)
};

// Largest cluster the decode kernel merges in (non-portable above 8; the H100 takes 16).
constexpr int kFlashClusterMax = 16;
// Whether the decode kernel can run clusters of `splits` blocks for this head_dim on this GPU (sm_90+,
// the cluster fits: cudaOccupancyMaxActiveClusters > 0). Cached per (splits, head_dim).
bool flash_decode_cluster_supported(int splits, int64_t head_dim);

// Launch on `s` (no queueing: the caller enqueues with a key holding every field).
void launch_flash_attention(const FlashArgs& a, cudaStream_t s);
void launch_flash_decode(const FlashArgs& a, cudaStream_t s);  // group <= 16

}  // namespace qbench::cuda
