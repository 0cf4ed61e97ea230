// Dense CPU Linear kernels (GEMV and tiled GEMM paths) against a plain scalar
// reference on random inputs of awkward sizes; half/bfloat16 conversions exhaustively.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engines/core/half.h"
#include "engines/cpu/linear_dense_cpu.h"

using namespace qbench;

TEST_CASE("f16 conversions round-trip every half value", "[kernels]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    REQUIRE(f32_to_f16(f) == h);
  }
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));   // smallest subnormal
  CHECK(f32_to_f16(65520.f) == 0x7c00);                   // rounds to inf
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie to even
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_f32(0xc040) == -3.0f);
}

TEST_CASE("dense Linear matches a scalar reference (f16, bf16, f32; GEMV and GEMM)", "[kernels]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (DType dt : {DType::F16, DType::BF16, DType::F32}) {
    for (int64_t in : {1, 7, 16, 63, 65, 257}) {
      for (int64_t out : {1, 5, 67, 130}) {
        std::vector<uint16_t> w16(size_t(in * out));
        std::vector<float> w32(size_t(in * out)), wref(size_t(in * out));
        for (size_t i = 0; i < w32.size(); ++i) {
          const float v = nd(rng);
          w16[i] = dt == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
          w32[i] = v;
          wref[i] = dt == DType::F32 ? v : dt == DType::BF16 ? bf16_to_f32(w16[i]) : f16_to_f32(w16[i]);
        }
        const void* wp = dt == DType::F32 ? static_cast<const void*>(w32.data()) : w16.data();
        auto lin = make_dense_linear_cpu(dt, wp, in, out);
        CHECK(lin->weight_bytes() == uint64_t(in * out) * (dt == DType::F32 ? 4 : 2));
        for (int64_t n : {1, 3, 4, 17}) {
          std::vector<float> x(size_t(n * in)), y(size_t(n * out), -99.f);
          for (auto& v : x) v = nd(rng);
          lin->forward(x.data(), y.data(), n);
          for (int64_t t = 0; t < n; ++t)
            for (int64_t o = 0; o < out; ++o) {
              double ref = 0, mag = 0;
              for (int64_t i = 0; i < in; ++i) {
                ref += double(x[t * in + i]) * wref[o * in + i];
                mag += std::fabs(double(x[t * in + i]) * wref[o * in + i]);
              }
              INFO(dtype_name(dt) << " in " << in << " out " << out << " n " << n);
              REQUIRE(std::fabs(y[t * out + o] - ref) <= 1e-5 * mag + 1e-6);
            }
        }
        // Embedding lookup returns the widened row exactly.
        const int32_t ids[2] = {int32_t(out - 1), 0};
        std::vector<float> rows(size_t(2 * in));
        lin->gather_rows(ids, 2, rows.data());
        for (int64_t i = 0; i < in; ++i) {
          REQUIRE(rows[i] == wref[(out - 1) * in + i]);
          REQUIRE(rows[in + i] == wref[i]);
        }
      }
    }
  }
}
