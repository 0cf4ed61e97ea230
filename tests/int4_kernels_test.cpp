// Int4 layouts and CPU kernels: GPTQ/AWQ pack/unpack round trips on random
// codes, and the vector kernels (GEMV, two-row GEMV, prefill GEMM, gather)
// against a scalar dequantise-then-multiply reference on awkward sizes,
// act-order included. Bound: |y − ref| <= 1e-3 · Σ|x·w| (relative to the
// size of the terms, so cancellation cannot make it meaningless).
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <random>

#include "engines/cpu/int4_kernels.h"
#include "engines/cpu/int4_packed.h"
#include "engines/cpu/int4_vnni.h"
#include "engines/cpu/linear_int4_cpu.h"
#include "engines/quant/int4_packing.h"

using namespace qbench;
using qbench::quant::Int4Codes;

namespace {

Int4Codes random_codes(int64_t in, int64_t out, int64_t group, bool act_order, uint32_t seed) {
  std::mt19937 rng(seed);
  Int4Codes c;
  c.resize(in, out, group);
  for (auto& q : c.q) q = uint8_t(rng() % 16);
  for (auto& z : c.zero) z = uint8_t(rng() % 17);  // 16 occurs in classic GPTQ files
  std::uniform_real_distribution<float> u(0.001f, 0.05f);
  for (auto& s : c.scale) s = u(rng);
  if (act_order && c.groups > 1) {
    std::vector<int32_t> perm(static_cast<size_t>(in));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    c.g_idx.resize(size_t(in));
    for (int64_t j = 0; j < in; ++j) c.g_idx[size_t(perm[size_t(j)])] = int32_t(j / c.group_size);
  }
  return c;
}

std::vector<float> random_x(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = d(rng);
  return x;
}

}  // namespace

TEST_CASE("GPTQ and AWQ pack/unpack round trips", "[int4][gptq][awq]") {
  std::mt19937 rng(7);
  for (auto [in, out] : {std::pair<int64_t, int64_t>{8, 8}, {24, 40}, {256, 128}, {776, 72}}) {
    std::vector<uint8_t> q(size_t(in * out)), back(q.size());
    for (auto& v : q) v = uint8_t(rng() % 16);
    std::vector<int32_t> words(size_t(in * out / 8));
    quant::gptq_pack_qweight(q.data(), in, out, words.data());
    quant::gptq_unpack_qweight(words.data(), in, out, back.data());
    CHECK(back == q);
    quant::awq_pack_qweight(q.data(), in, out, words.data());
    quant::awq_unpack_qweight(words.data(), in, out, back.data());
    CHECK(back == q);
    for (bool awq : {false, true})
      for (int offset : {0, 1}) {
        std::vector<uint8_t> z(size_t(in * out));  // [in rows][out cols] of zeros
        for (auto& v : z) v = uint8_t(rng() % 16 + offset);
        quant::pack_cols(z.data(), in, out, awq, offset, words.data());
        quant::unpack_cols(words.data(), in, out, awq, offset, back.data());
        CHECK(back == z);
      }
  }
}

TEST_CASE("nibble orders are GPTQ's and AutoAWQ's", "[int4][gptq][awq]") {
  // Codes 0..7 in output columns 0..7 of one input row.
  std::vector<uint8_t> q(8);  // q[o][i] with in = 1 for AWQ: column o holds o
  std::iota(q.begin(), q.end(), 0);
  int32_t w = 0;
  quant::awq_pack_qweight(q.data(), 1, 8, &w);
  // Column 8c + j sits in nibble [0, 4, 1, 5, 2, 6, 3, 7][j]: nibbles read 0,2,4,6,1,3,5,7.
  CHECK(uint32_t(w) == 0x75316420u);
  quant::pack_cols(q.data(), 1, 8, false, 0, &w);
  CHECK(uint32_t(w) == 0x76543210u);
  quant::pack_cols(q.data(), 1, 8, false, 1, &w);  // classic GPTQ zeros: stored z − 1, 0 wraps to 15
  CHECK(uint32_t(w) == 0x6543210Fu);
  // GPTQ qweight: input i of a column in nibble i mod 8 of word i / 8.
  std::vector<uint8_t> col(8);
  std::iota(col.begin(), col.end(), 8);  // q[0][i] = 8 + i, in = 8, out = 1
  quant::gptq_pack_qweight(col.data(), 8, 1, &w);
  CHECK(uint32_t(w) == 0xFEDCBA98u);
}

TEST_CASE("int4 kernels agree with scalar dequantise-then-multiply on awkward sizes", "[int4][kernels]") {
  struct Case { int64_t in, out, group; bool act; };
  const Case cases[] = {{8, 1, -1, false},   {100, 3, -1, false}, {136, 37, 32, false}, {200, 17, 32, true},
                        {256, 64, 128, true}, {264, 9, 64, false}, {640, 33, 128, false}, {768, 70, 128, true},
                        {1000, 5, -1, false}, {512, 129, 16, true}};
  uint32_t seed = 1;
  for (const Case& k : cases) {
    const Int4Codes c = random_codes(k.in, k.out, k.group, k.act, seed++);
    auto lin = make_int4_linear_cpu(c, "test");
    const cpu::PackedInt4 p = cpu::pack_int4_for_cpu(c);
    for (int64_t n : {1, 2, 3, 5, 11}) {
      const std::vector<float> x = random_x(n * k.in, seed++);
      std::vector<float> y(size_t(n * k.out), NAN);
      lin->forward(x.data(), y.data(), n);
      double worst = 0;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t o = 0; o < k.out; ++o) {
          double ref = 0, mag = 0;
          for (int64_t i = 0; i < k.in; ++i) {
            const double w = c.dequant(o, i), xv = x[size_t(t * k.in + i)];
            ref += xv * w;
            mag += std::fabs(xv * w);
          }
          const double err = std::fabs(double(y[size_t(t * k.out + o)]) - ref) / std::max(mag, 1e-30);
          worst = std::max(worst, err);
        }
      INFO("in " << k.in << " out " << k.out << " group " << k.group << (k.act ? " act-order" : "") << " n " << n);
      CHECK(worst <= 1e-3);
      if (worst > 1e-5) WARN("relative error " << worst << " (float32 rounding alone stays near 1e-6)");
    }
    // Row kernels against their scalar twins, in the packed (permuted, padded) order.
    std::vector<float> xp = random_x(p.in_pad, seed++), d(size_t(p.in_pad)), ds(size_t(p.in_pad));
    for (int64_t j = p.in; j < p.in_pad; ++j) xp[size_t(j)] = 0.f;
    int64_t dequant_mismatch = 0;
    for (int64_t o = 0; o < k.out; ++o) {
      const float ref = cpu::int4_row_dot_scalar(p, o, xp.data());
      CHECK(std::fabs(cpu::int4_row_dot(p, o, xp.data()) - ref) <= 1e-4 * (1 + std::fabs(ref)));
      cpu::int4_row_dequant(p, o, d.data());
      cpu::int4_row_dequant_scalar(p, o, ds.data());
      for (int64_t j = 0; j < p.in; ++j) dequant_mismatch += d[size_t(j)] != ds[size_t(j)];
    }
    CHECK(dequant_mismatch == 0);
    // The int16-activation VNNI kernels (where this build and the group layout allow them).
    if (cpu::int4_vnni_usable(p)) {
      cpu::Int4ActI16 act;
      cpu::int4_quantize_act_i16(p, xp.data(), act);
      double worst_vnni = 0;
      for (int64_t o = 0; o + 1 < k.out; o += 2) {
        float y0 = NAN, y1 = NAN;
        cpu::int4_row_dot2_vnni(p, o, act, &y0, &y1);
        for (int r = 0; r < 2; ++r) {
          const float ref = cpu::int4_row_dot_scalar(p, o + r, xp.data());
          double mag = 0;
          std::vector<float> w(size_t(p.in_pad));
          cpu::int4_row_dequant_scalar(p, o + r, w.data());
          for (int64_t j = 0; j < p.in; ++j) mag += std::fabs(double(w[size_t(j)]) * xp[size_t(j)]);
          worst_vnni = std::max(worst_vnni, std::fabs(double(r ? y1 : y0) - ref) / std::max(mag, 1e-30));
          if (r == 0)
            CHECK(std::fabs(double(cpu::int4_row_dot_vnni(p, o, act)) - ref) <= 1e-3 * std::max(mag, 1e-30));
        }
      }
      INFO("VNNI in " << k.in << " out " << k.out << " group " << k.group);
      CHECK(worst_vnni <= 1e-3);
    }
    // gather_rows undoes the act-order permutation: bit-exact dequantised rows.
    std::vector<float> rows(size_t(k.in));
    int64_t gather_mismatch = 0;
    for (int32_t o = 0; o < k.out; ++o) {
      lin->gather_rows(&o, 1, rows.data());
      for (int64_t i = 0; i < k.in; ++i) gather_mismatch += rows[size_t(i)] != c.dequant(o, i);
    }
    CHECK(gather_mismatch == 0);
    CHECK(lin->weight_bytes() == uint64_t(k.out) * ((k.in + 127) / 128 * 64) + uint64_t(k.out * c.groups * 8) +
                                     (c.g_idx.empty() ? 0 : uint64_t(k.in) * 4));
  }
}

TEST_CASE("int4 packing rejects group layouts the kernels cannot run", "[int4][kernels]") {
  Int4Codes c = random_codes(96, 8, 24, false, 3);  // 24 is not a multiple of 16
  CHECK_THROWS_WITH(make_int4_linear_cpu(c, "t"), Catch::Contains("group size 24"));
  Int4Codes d = random_codes(256, 8, 128, false, 4);
  d.g_idx.assign(256, 0);  // 256 inputs in group 0, none in group 1
  CHECK_THROWS_WITH(make_int4_linear_cpu(d, "t"), Catch::Contains("g_idx"));
}
