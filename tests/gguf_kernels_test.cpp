// GGUF block kernels on random blocks of every supported type: the integer
// reference dot equals float math on the dequantised rows, the fast (SIMD)
// dot equals the reference within 1e-3 relative on awkward row lengths, and
// the Linear's GEMV / prefill paths agree with it.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engines/core/half.h"
#include "engines/cpu/gguf_dot.h"
#include "engines/cpu/linear_gguf_cpu.h"
#include "engines/quant/activation_quant.h"
#include "engines/quant/block_layouts.h"
#include "engines/quant/dequant_ref.h"
#include "engines/quant/vec_dot_ref.h"
#include "engines/quant/random_blocks.h"

using namespace qbench;
using namespace qbench::quant;

namespace {

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Awkward lengths: odd block counts, one block, and the 896 / 4864 of Qwen2.5-0.5B.
std::vector<int64_t> lengths(GgmlType t) {
  const int64_t b = traits(t).block;
  if (b == 1) return {1, 7, 33, 255, 896, 1000};
  if (b == 32) return {32, 96, 224, 896, 4864 + 32};
  return {256, 768, 1280, 4864};
}

std::vector<float> randn(int64_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(rng);
  return v;
}

}  // namespace

TEST_CASE("reference dot of quantised activations equals float math on dequantised rows", "[gguf][gguf_kernels]") {
  std::mt19937 rng(7);
  for (GgmlType t : kTypes) {
    for (int64_t n : lengths(t)) {
      const auto w = quant::random_row(t, n, rng);
      const auto x = randn(n, rng);
      std::vector<uint8_t> a(activation_row_bytes(t, n));
      quantize_activation(t, x.data(), a.data(), n);
      std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
      dequantize_row(t, w.data(), wf.data(), n);
      const GgmlType at = activation_type(t);
      if (at != GgmlType::Q8_K && at != GgmlType::Q8_1) dequantize_row(at, a.data(), af.data(), n);
      if (activation_type(t) == GgmlType::Q8_K) {  // Q8_K is not a storage type: d · q by hand
        for (int64_t b = 0; b < n / QK_K; ++b) {
          const auto* blk = reinterpret_cast<const BlockQ8_K*>(a.data()) + b;
          for (int j = 0; j < QK_K; ++j) af[size_t(b * QK_K + j)] = blk->d * blk->qs[j];
        }
      }
      if (activation_type(t) == GgmlType::Q8_1) {  // Q8_1 dequantises like Q8_0 (d · q)
        for (int64_t b = 0; b < n / 32; ++b) {
          const auto* blk = reinterpret_cast<const BlockQ8_1*>(a.data()) + b;
          for (int j = 0; j < 32; ++j) af[size_t(b * 32 + j)] = f16_to_f32(blk->d) * blk->qs[j];
        }
      }
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += double(wf[size_t(i)]) * af[size_t(i)];
        mag += std::fabs(double(wf[size_t(i)]) * af[size_t(i)]);
      }
      const double got = vec_dot_ref(t, w.data(), a.data(), n);
      INFO(type_name(t) << " n=" << n << " got " << got << " want " << want);
      // Q8_1's stored sum s is rounded to F16 (as llama.cpp does): allow for it.
      const double tol = activation_type(t) == GgmlType::Q8_1 ? 1e-3 : 1e-4;
      CHECK(std::fabs(got - want) <= tol * mag + 1e-6);
      // Activation quantisation itself stays close to the float activations.
      double err = 0, norm = 0;
      for (int64_t i = 0; i < n; ++i) {
        err += std::pow(double(af[size_t(i)]) - x[size_t(i)], 2);
        norm += std::pow(double(x[size_t(i)]), 2);
      }
      CHECK(std::sqrt(err / norm) < 0.01);
    }
  }
}

TEST_CASE("fast GGUF dot equals the reference within 1e-3 relative", "[gguf][gguf_kernels]") {
  std::mt19937 rng(11);
  for (GgmlType t : kTypes) {
    const cpu::GgufDotFn fast = cpu::gguf_dot_kernel(t);
    REQUIRE(fast != nullptr);
    for (int64_t n : lengths(t)) {
      for (int rep = 0; rep < 4; ++rep) {
        const auto w = quant::random_row(t, n, rng);
        const auto x = randn(n, rng, rep == 3 ? 100.f : 1.f);
        std::vector<uint8_t> a(activation_row_bytes(t, n));
        quantize_activation(t, x.data(), a.data(), n);
        const double ref = vec_dot_ref(t, w.data(), a.data(), n);
        const double got = fast(w.data(), a.data(), n);
        // Relative to the sum of magnitudes, so that a dot near zero by cancellation is judged fairly.
        std::vector<float> wf(static_cast<size_t>(n));
        dequantize_row(t, w.data(), wf.data(), n);
        double mag = 0;
        for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(wf[size_t(i)]) * x[size_t(i)]);
        INFO(type_name(t) << " (" << cpu::gguf_dot_isa(t) << ") n=" << n << " ref " << ref << " fast " << got);
        CHECK(std::fabs(got - ref) <= 1e-3 * std::max(std::fabs(ref), 1e-3 * mag) + 1e-6 * mag);
      }
    }
  }
}

TEST_CASE("GGUF Linear: GEMV and prefill paths equal per-row reference dots", "[gguf][gguf_kernels]") {
  std::mt19937 rng(3);
  for (GgmlType t : kTypes) {
    const int64_t in = traits(t).block == 256 ? 512 : 96, out = 37, n = 5;
    std::vector<uint8_t> w;
    for (int64_t o = 0; o < out; ++o) {
      const auto r = quant::random_row(t, in, rng);
      w.insert(w.end(), r.begin(), r.end());
    }
    auto lin = make_gguf_linear_cpu(t, w.data(), in, out);
    const auto x = randn(in * n, rng);
    std::vector<float> y1(static_cast<size_t>(out * n)), yn(static_cast<size_t>(out * n));
    for (int64_t k = 0; k < n; ++k) lin->forward(x.data() + k * in, y1.data() + k * out, 1);
    lin->forward(x.data(), yn.data(), n);
    std::vector<uint8_t> a(activation_row_bytes(t, in));
    const uint64_t rb = row_bytes(t, in);
    for (int64_t k = 0; k < n; ++k) {
      quantize_activation(t, x.data() + k * in, a.data(), in);
      for (int64_t o = 0; o < out; ++o) {
        const double ref = vec_dot_ref(t, w.data() + o * rb, a.data(), in);
        INFO(type_name(t) << " token " << k << " row " << o);
        CHECK(y1[size_t(k * out + o)] == Approx(ref).epsilon(1e-3).margin(1e-4));
        CHECK(yn[size_t(k * out + o)] == Approx(ref).epsilon(1e-3).margin(1e-4));
      }
    }
    // gather_rows dequantises exactly.
    const int32_t ids[2] = {3, 36};
    std::vector<float> g(static_cast<size_t>(2 * in)), want(static_cast<size_t>(in));
    lin->gather_rows(ids, 2, g.data());
    dequantize_row(t, w.data() + 36 * rb, want.data(), in);
    CHECK(std::vector<float>(g.begin() + in, g.end()) == want);
  }
}
