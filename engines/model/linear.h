#pragma once
// The seam between the transformer and a weight format: every projection
// (q/k/v/o, gate/up/down, LM head) is a Linear. A format adds a Linear kind
// and a loader; the transformer never changes.
#include <cstdint>
#include <string>

#include "engines/core/dtype.h"
#include "engines/quant/ggml_type.h"

namespace qbench {

namespace cpu { struct PackedInt4; }

// GGUF blocks as a CPU Linear uses them in place: [out rows x in/block blocks]
// of one ggml type; row_map (may be null) maps output o to stored row.
struct GgufBlocksView {
  quant::GgmlType type{};
  const void* blocks = nullptr;
  const int32_t* row_map = nullptr;
};

class Linear {
 public:
  virtual ~Linear() = default;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // y[n, out] = x[n, in] · Wᵀ, row-major float32 activations; no bias (the
  // transformer adds it). n == 1 is the decode GEMV; n > 1 should take a
  // blocked GEMM path. Threaded internally (OpenMP).
  virtual void forward(const float* x, float* y, int64_t n) const = 0;

  // Rows `ids[0..n)` of W, dequantised to float32 into out[n, in]: the
  // embedding lookup when this Linear is the (tied) token-embedding table.
  virtual void gather_rows(const int32_t* ids, int64_t n, float* out) const = 0;
  // The same with the ids already in the device's memory (the previous decode step's argmax on a GPU:
  // Ops::argmax_rows_device); the caller guarantees they are in range. Linears of devices without pipelined
  // greedy decode keep this default, which throws.
  virtual void gather_rows_device(const int32_t* device_ids, int64_t n, float* out) const;

  // Bytes the weights occupy in memory as this Linear holds them (packed
  // codes, scales, zeros; mapped file bytes count when used in place).
  virtual uint64_t weight_bytes() const = 0;

  // Short storage description for results, e.g. "f16", "q4_k", "gptq-int4-g128".
  virtual std::string kind() const = 0;

  // The host weights [out, in] of a plain dense Linear (F16/BF16/F32) and their
  // dtype, so a device can copy them; nullptr for packed/quantized storage.
  virtual const void* dense_data(DType* dtype) const { return nullptr; }

  // Quantized storage a device backend can copy (act-order already resolved,
  // see engines/cpu/int4_packed.h); nullptr for other kinds.
  virtual const cpu::PackedInt4* int4_packed() const { return nullptr; }
  // GGUF blocks; false for other kinds.
  virtual bool gguf_blocks(GgufBlocksView* view) const { return false; }

 protected:
  Linear(int64_t in, int64_t out) : in_(in), out_(out) {}
  int64_t in_, out_;
};

}  // namespace qbench
