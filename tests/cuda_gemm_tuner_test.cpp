// The decode-sized GEMM through the timed cuBLASLt choice (engines/cuda/gemm_tuner.h): which token
// counts it takes, that a bucket is timed once and shared, and that every count in a bucket computes
// y = x · Wᵀ like a double-precision reference (FP16/BF16 inputs, FP32 accumulation). Skips without a GPU.
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "engines/core/half.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/gemm_compare_cuda.h"
#include "engines/cuda/gemm_tuner.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/model/device_array.h"
#include "tests/support/cuda_test_support.h"

using namespace qbench;
using namespace qbench::test;

namespace {

// A host vector on the device (the engine's DeviceArray). The calls under test run on the stream at once,
// not through the launch queue, so small (staged, queued) uploads are run first.
template <class T>
DeviceArray<T> on_device(Ops& ops, const std::vector<T>& h) {
  DeviceArray<T> a(&ops, h, nullptr, MemCategory::Activations);
  cuda::sync("test upload");
  return a;
}

}  // namespace

TEST_CASE("CUDA tuned GEMM: the token counts it takes, one timing per bucket, results as a reference",
          "[cuda][cuda-kernels][cuda-gemm-tune]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  CHECK(cuda::gemm_tune_bucket(8) == 8);
  CHECK(cuda::gemm_tune_bucket(9) == 16);
  CHECK(cuda::gemm_tune_bucket(64) == 64);
  CHECK(cuda::gemm_tune_bucket(65) == 80);
  CHECK(cuda::gemm_tune_bucket(128) == 128);
  // 8.4 MB of weights (tuning starts at 8 MiB); rows not a multiple of 16; ldy > rows as a merged launch's slice.
  const int64_t rows = 2056, in = 2048, ldy = rows + 8;
  for (bool bf16 : {false, true}) {
    const auto wf = randu(size_t(rows * in), bf16 ? 5 : 6);
    const auto xf = randu(size_t(128 * in + 8), bf16 ? 7 : 8);
    std::vector<uint16_t> w16(wf.size()), x16(xf.size());
    auto round = [&](float v) { return bf16 ? f32_to_bf16(v) : f32_to_f16(v); };
    auto value = [&](uint16_t h) { return bf16 ? bf16_to_f32(h) : f16_to_f32(h); };
    for (size_t i = 0; i < wf.size(); ++i) w16[i] = round(wf[i]);
    for (size_t i = 0; i < xf.size(); ++i) x16[i] = round(xf[i]);
    const auto dw = on_device(*ops, w16), dx = on_device(*ops, x16);
    const auto dy = on_device(*ops, std::vector<float>(size_t(128 * ldy + 1), -7.f));
    const cudaDataType type = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    std::vector<int64_t> checked_rows;  // every 37th row and the last (a full double reference would be slow)
    for (int64_t r = 0; r < rows; r += 37) checked_rows.push_back(r);
    checked_rows.push_back(rows - 1);
    // Outside 8..128 tokens the caller keeps cublasGemmEx: nothing is run or timed.
    const cuda::GemmTuneStats s0 = cuda::gemm_tune_stats();
    CHECK_FALSE(cuda::run_gemm_tuned(dw.data(), dx.data(), type, dy.data(), rows, 7, in, ldy));
    CHECK_FALSE(cuda::run_gemm_tuned(dw.data(), dx.data(), type, dy.data(), rows, 129, in, ldy));
    CHECK_FALSE(cuda::run_gemm_tuned(dw.data(), dx.data(), type, dy.data(), 1000, 64, in, ldy));  // 4 MB of weights
    CHECK(cuda::gemm_tune_stats().tuned == s0.tuned);
    // (n, x offset, y offset in elements): 13 and 16 share 9's bucket (16) and are timed once, at the first
    // count seen; offset operands (x 16-byte, y 4-byte aligned, as slices of larger buffers are) are a shape
    // of their own: an algorithm chosen for aligned operands may assume the alignment.
    struct Call { int64_t n, xoff, yoff; bool first_of_bucket; };
    for (Call c : {Call{9, 0, 0, true}, Call{13, 0, 0, false}, Call{16, 0, 0, false}, Call{8, 0, 0, true},
                   Call{33, 0, 0, true}, Call{128, 0, 0, true}, Call{16, 8, 1, true}, Call{13, 8, 1, false}}) {
      const cuda::GemmTuneStats before = cuda::gemm_tune_stats();
      const bool ran = cuda::run_gemm_tuned(dw.data(), dx.data() + c.xoff, type, dy.data() + c.yoff, rows, c.n, in, ldy);
      const cuda::GemmTuneStats after = cuda::gemm_tune_stats();
      INFO((bf16 ? "bf16" : "f16") << " n " << c.n << " x offset " << c.xoff << " y offset " << c.yoff);
      CHECK(after.rejected == before.rejected);  // the check found no disagreement
      if (!ran) {  // no cuBLASLt candidate (not expected on sm_80+): the engine runs cublasGemmEx
        WARN("tuned GEMM not taken");
        continue;
      }
      CHECK(after.tuned == before.tuned + (c.first_of_bucket ? 1 : 0));
      CHECK(after.tuned_calls == before.tuned_calls + 1);
      const std::vector<float> y = to_host(*ops, dy);
      for (int64_t t = 0; t < c.n; ++t)
        for (int64_t r : checked_rows) {
          double want = 0, S = 0;
          for (int64_t k = 0; k < in; ++k) {
            const double p = double(value(x16[size_t(c.xoff + t * in + k)])) * value(w16[size_t(r * in + k)]);
            want += p;
            S += std::fabs(p);
          }
          // Products of 16-bit values are exact in FP32; only the FP32 sums round (2048 terms: about 1e-5 of S at worst).
          REQUIRE(std::fabs(double(y[size_t(c.yoff + t * ldy + r)]) - want) <= 5e-5 * S + 1e-6);
        }
    }
  }
}

TEST_CASE("CUDA GEMM output comparison: largest difference, non-finite positions, strides", "[cuda][cuda-kernels][cuda-gemm-tune]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t rows = 3, n = 2, ld_ref = 3, ld_got = 5;  // got's columns have 2 unused slots (never read)
  std::vector<float> ref = {1.f, -4.f, nan, 2.f, inf, 0.5f};
  std::vector<float> got = {1.f, -4.5f, nan, 1e30f, 1e30f, 2.f, inf, 0.5f, 1e30f, 1e30f};
  {
    const auto dr = on_device(*ops, ref), dg = on_device(*ops, got);
    const cuda::GemmComparison c = cuda::compare_gemm_outputs(dr.data(), ld_ref, dg.data(), ld_got, rows, n);
    CHECK(c.max_abs_ref == 4.f);   // over positions finite in both (not the inf)
    CHECK(c.max_abs_diff == 0.5f);
    CHECK(c.nonfinite_ref == 2);   // NaN and inf, matched by got: no mismatch
    CHECK(c.mismatched == 0);
  }
  got[6] = -inf;  // sign of the infinity differs
  got[2] = 3.f;   // finite where ref is NaN
  {
    const auto dr = on_device(*ops, ref), dg = on_device(*ops, got);
    const cuda::GemmComparison c = cuda::compare_gemm_outputs(dr.data(), ld_ref, dg.data(), ld_got, rows, n);
    CHECK(c.mismatched == 2);
    CHECK(c.nonfinite_ref == 2);
  }
}

#endif  // QBENCH_HAVE_CUDA
