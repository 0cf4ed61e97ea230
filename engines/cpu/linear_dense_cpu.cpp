#include "engines/cpu/linear_dense_cpu.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "engines/core/error.h"
#include "engines/cpu/gemm_f32.h"
#include "engines/cpu/simd.h"

namespace qbench {

namespace {

// Below this many tokens a GEMV per token reads the weights fewer times than
// it costs to widen tiles; above it the GEMM wins.
constexpr int64_t kGemmMinRows = 4;
// Output rows widened per GEMM tile: 64 rows x 4864 in (Qwen2.5-0.5B down) = 1.2 MB f32 per thread.
constexpr int64_t kTileRows = 64;

template <class W>
class DenseLinearCpu final : public Linear {
  using T = typename W::T;

 public:
  DenseLinearCpu(const T* w, int64_t in, int64_t out, const char* kind) : Linear(in, out), w_(w), kind_(kind) {}

  void forward(const float* x, float* y, int64_t n) const override {
    if (n < kGemmMinRows) {
      for (int64_t t = 0; t < n; ++t) gemv(x + t * in_, y + t * out_);
      return;
    }
    const int64_t tiles = (out_ + kTileRows - 1) / kTileRows;
#pragma omp parallel
    {
      std::vector<float> tile(size_t(kTileRows) * in_);
#pragma omp for schedule(static)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * kTileRows, rows = std::min(kTileRows, out_ - r0);
        if constexpr (std::is_same_v<W, cpu::F32W>) {
          cpu::gemm_xbt(x, n, in_, w_ + r0 * in_, rows, y + r0, out_);
        } else {
          cpu::widen<W>(w_ + r0 * in_, tile.data(), rows * in_);
          cpu::gemm_xbt(x, n, in_, tile.data(), rows, y + r0, out_);
        }
      }
    }
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
      cpu::widen<W>(w_ + int64_t(ids[i]) * in_, out + i * in_, in_);
    }
  }

  uint64_t weight_bytes() const override { return uint64_t(in_) * out_ * sizeof(T); }
  std::string kind() const override { return kind_; }
  const void* dense_data(DType* dtype) const override {
    *dtype = std::is_same_v<W, cpu::F32W> ? DType::F32 : std::is_same_v<W, cpu::BF16W> ? DType::BF16 : DType::F16;
    return w_;
  }

 private:
  void gemv(const float* x, float* y) const {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < out_; ++o) y[o] = cpu::dot<W>(x, w_ + o * in_, in_);
  }

  const T* w_;
  const char* kind_;
};

}  // namespace

std::unique_ptr<Linear> make_dense_linear_cpu(DType dtype, const void* weights, int64_t in, int64_t out) {
  switch (dtype) {
    case DType::F16:
      return std::make_unique<DenseLinearCpu<cpu::F16W>>(static_cast<const uint16_t*>(weights), in, out, "f16");
    case DType::BF16:
      return std::make_unique<DenseLinearCpu<cpu::BF16W>>(static_cast<const uint16_t*>(weights), in, out, "bf16");
    case DType::F32:
      return std::make_unique<DenseLinearCpu<cpu::F32W>>(static_cast<const float*>(weights), in, out, "f32");
    default:
      throw Error(std::string("dense Linear does not support dtype ") + dtype_name(dtype));
  }
}

}  // namespace qbench
