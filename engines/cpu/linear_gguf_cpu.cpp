#include "engines/cpu/linear_gguf_cpu.h"

#include <omp.h>

#include <algorithm>

#include "engines/core/error.h"
#include "engines/cpu/gguf_dot.h"
#include "engines/quant/activation_quant.h"
#include "engines/quant/dequant_ref.h"

namespace qbench {

namespace {

// Output rows per work item in prefill: a tile's weight rows stay in L2 while every token passes over them.
constexpr int64_t kTileRows = 16;

class GgufLinearCpu final : public Linear {
 public:
  GgufLinearCpu(quant::GgmlType t, const uint8_t* w, int64_t in, int64_t out, std::vector<int32_t> map)
      : Linear(in, out), type_(t), w_(w), row_bytes_(quant::row_bytes(t, in)),
        act_bytes_(quant::activation_row_bytes(t, in)), dot_(cpu::gguf_dot_kernel(t)), map_(std::move(map)) {
    if (!dot_) throw Error(std::string("no CPU dot product for ggml type ") + quant::type_name(t));
    if (!map_.empty() && int64_t(map_.size()) != out) throw Error("internal: GGUF row map has the wrong size");
  }

  void forward(const float* x, float* y, int64_t n) const override {
    // Activations are quantised once per forward and reused by every weight row.
    thread_local std::vector<uint8_t> act;
    act.resize(size_t(act_bytes_ * uint64_t(n)));
    uint8_t* a = act.data();
#pragma omp parallel for schedule(static) if (n > 1)
    for (int64_t t = 0; t < n; ++t) quant::quantize_activation(type_, x + t * in_, a + t * act_bytes_, in_);
    if (n == 1) {
#pragma omp parallel for schedule(static)
      for (int64_t o = 0; o < out_; ++o) y[o] = dot_(row(o), a, in_);
      return;
    }
    const int64_t tiles = (out_ + kTileRows - 1) / kTileRows;
#pragma omp parallel for schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t o0 = tile * kTileRows, o1 = std::min(out_, o0 + kTileRows);
      for (int64_t t = 0; t < n; ++t)
        for (int64_t o = o0; o < o1; ++o) y[t * out_ + o] = dot_(row(o), a + t * act_bytes_, in_);
    }
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= out_) throw Error("token id " + std::to_string(ids[i]) + " out of range");
      quant::dequantize_row(type_, row(ids[i]), out + i * in_, in_);
    }
  }

  uint64_t weight_bytes() const override { return row_bytes_ * uint64_t(out_); }
  std::string kind() const override { return quant::type_name(type_); }
  bool gguf_blocks(GgufBlocksView* v) const override {
    *v = {type_, w_, map_.empty() ? nullptr : map_.data()};
    return true;
  }

 private:
  const uint8_t* row(int64_t o) const { return w_ + uint64_t(map_.empty() ? o : map_[size_t(o)]) * row_bytes_; }

  quant::GgmlType type_;
  const uint8_t* w_;
  uint64_t row_bytes_, act_bytes_;
  cpu::GgufDotFn dot_;
  std::vector<int32_t> map_;
};

}  // namespace

std::unique_ptr<Linear> make_gguf_linear_cpu(quant::GgmlType type, const void* blocks, int64_t in, int64_t out,
                                             std::vector<int32_t> row_map) {
  return std::make_unique<GgufLinearCpu>(type, static_cast<const uint8_t*>(blocks), in, out, std::move(row_map));
}

}  // namespace qbench
