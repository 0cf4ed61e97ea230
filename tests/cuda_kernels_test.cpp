// CUDA kernels against the CPU implementations on random inputs of awkward
// sizes: the dense Linear (GEMV and cuBLAS GEMM paths, F16/BF16/F32), the
// elementwise ops, and kv_store + attention over a paged cache whose block
// table is out of order. Skips (even under CI=true) where no GPU is present.
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/cpu/linear_dense_cpu.h"
#include "engines/cpu/ops_cpu.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_dense_cuda.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/model/device_array.h"
#include "tests/support/cuda_test_support.h"

using namespace qbench;
using namespace qbench::test;

namespace {

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

}  // namespace

TEST_CASE("CUDA dense Linear equals the CPU Linear (GEMV and GEMM, awkward shapes)", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  struct Shape { int64_t in, out; };
  for (DType dt : {DType::F16, DType::BF16, DType::F32}) {
    for (Shape s : {Shape{72, 37}, Shape{100, 29}, Shape{1000, 131}, Shape{264, 8}}) {
      // Weights stored in dt; x in float32.
      const auto wf = randu(size_t(s.in * s.out), 7);
      std::vector<uint16_t> w16(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) w16[i] = dt == DType::BF16 ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
      const void* w = dt == DType::F32 ? static_cast<const void*>(wf.data()) : w16.data();
      auto cpu_l = make_dense_linear_cpu(dt, w, s.in, s.out);
      auto gpu_l = make_dense_linear_cuda(dt, w, s.in, s.out);
      CHECK(gpu_l->weight_bytes() == cpu_l->weight_bytes());
      for (int64_t n : {1, 3, 8, 9, 33}) {
        const auto x = randu(size_t(n * s.in), 11 + uint32_t(n));
        std::vector<float> want(size_t(n * s.out));
        cpu_l->forward(x.data(), want.data(), n);
        DeviceArray<float> dx(ops.get(), x, nullptr, MemCategory::Activations);
        DeviceArray<float> dy(ops.get(), size_t(n * s.out), nullptr, MemCategory::Activations);
        gpu_l->forward(dx.data(), dy.data(), n);
        const auto got = to_host(*ops, dy);
        // Bound per output: relative to sum |x_k w_k|. The GEMV and the tensor-core kernel (x split hi + lo)
        // are about FP32; the cuBLAS path rounds x to the weight type (from 8 tokens: auto_dense_path).
        const bool rounded = dt != DType::F32 && cuda::auto_dense_path(n) == cuda::DensePath::Cublas;
        const double rel = !rounded ? 1e-5 : dt == DType::F16 ? 2e-3 : 1e-2;
        for (int64_t t = 0; t < n; ++t)
          for (int64_t o = 0; o < s.out; ++o) {
            double S = 0;
            for (int64_t k = 0; k < s.in; ++k) {
              const float wk = dt == DType::F32 ? wf[size_t(o * s.in + k)]
                                                : (dt == DType::BF16 ? bf16_to_f32(w16[size_t(o * s.in + k)]) : f16_to_f32(w16[size_t(o * s.in + k)]));
              S += std::fabs(double(x[size_t(t * s.in + k)]) * wk);
            }
            const double d = std::fabs(double(got[size_t(t * s.out + o)]) - want[size_t(t * s.out + o)]);
            INFO(dtype_name(dt) << " in " << s.in << " out " << s.out << " n " << n << " t " << t << " o " << o);
            REQUIRE(d <= rel * S + 1e-6);
          }
      }
      // Embedding lookup: exact.
      const std::vector<int32_t> ids = {int32_t(s.out - 1), 0, 5 % int32_t(s.out), int32_t(s.out / 2)};
      std::vector<float> want(ids.size() * size_t(s.in));
      cpu_l->gather_rows(ids.data(), int64_t(ids.size()), want.data());
      DeviceArray<float> dg(ops.get(), want.size(), nullptr, MemCategory::Activations);
      gpu_l->gather_rows(ids.data(), int64_t(ids.size()), dg.data());
      CHECK(to_host(*ops, dg) == want);
      const int32_t bad = int32_t(s.out);
      CHECK_THROWS_AS(gpu_l->gather_rows(&bad, 1, dg.data()), Error);
    }
  }
}

TEST_CASE("CUDA GEMVs over one input merge into one launch and stay exact", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  const int64_t in = 264;
  const int64_t outs[3] = {40, 8, 77};  // q/k/v-like: different heights, one input
  std::vector<std::vector<uint16_t>> w16(3);
  std::vector<std::unique_ptr<Linear>> cpu, gpu;
  for (int i = 0; i < 3; ++i) {
    const auto wf = randu(size_t(in * outs[i]), 100 + uint32_t(i));
    for (float v : wf) w16[size_t(i)].push_back(f32_to_f16(v));
    cpu.push_back(make_dense_linear_cpu(DType::F16, w16[size_t(i)].data(), in, outs[i]));
    gpu.push_back(make_dense_linear_cuda(DType::F16, w16[size_t(i)].data(), in, outs[i]));
  }
  for (int64_t n : {1, 5}) {
    auto x = randu(size_t(n * in), 7 + uint32_t(n));
    DeviceArray<float> dx(ops.get(), x, nullptr, MemCategory::Activations);
    x.assign(x.size(), 0.f);  // the upload was staged at once: later host writes must not reach the device
    const auto x0 = randu(size_t(n * in), 7 + uint32_t(n));
    std::vector<DeviceArray<float>> dy;
    for (int i = 0; i < 3; ++i) dy.emplace_back(ops.get(), size_t(n * outs[i]), nullptr, MemCategory::Activations);
    cuda::flush();
    const uint64_t before = cuda::graph_stats().launches;
    for (int i = 0; i < 3; ++i) gpu[size_t(i)]->forward(dx.data(), dy[size_t(i)].data(), n);
    CHECK(cuda::graph_stats().launches - before == 1);  // one merged launch
    for (int i = 0; i < 3; ++i) {
      std::vector<float> want(size_t(n * outs[i]));
      cpu[size_t(i)]->forward(x0.data(), want.data(), n);
      const auto got = to_host(*ops, dy[size_t(i)]);
      INFO("matrix " << i << " n " << n);
      CHECK(max_diff(got, want) <= 1e-4);
    }
    // Two GEMVs into the same output must not merge: the second one's result stands.
    const uint64_t b2 = cuda::graph_stats().launches;
    gpu[0]->forward(dx.data(), dy[0].data(), n);
    gpu[0]->forward(dx.data(), dy[0].data(), n);
    CHECK(cuda::graph_stats().launches - b2 == 2);
    std::vector<float> want(size_t(n * outs[0]));
    cpu[0]->forward(x0.data(), want.data(), n);
    CHECK(max_diff(to_host(*ops, dy[0]), want) <= 1e-4);
  }
}

TEST_CASE("CUDA cuBLAS Linears over one input share its FP16 conversion", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  const int64_t in = 264, n = 40;  // more than 16 tokens: the cuBLAS path
  const int64_t outs[3] = {40, 8, 77};
  std::vector<std::vector<uint16_t>> w16(3);
  std::vector<std::unique_ptr<Linear>> cpu, gpu;
  for (int i = 0; i < 3; ++i) {
    for (float v : randu(size_t(in * outs[i]), 200 + uint32_t(i))) w16[size_t(i)].push_back(f32_to_f16(v));
    cpu.push_back(make_dense_linear_cpu(DType::F16, w16[size_t(i)].data(), in, outs[i]));
    gpu.push_back(make_dense_linear_cuda(DType::F16, w16[size_t(i)].data(), in, outs[i]));
  }
  // The reference: the CPU Linear on x rounded to FP16 (what the GEMM multiplies), FP32 sums in another order.
  auto want_of = [&](int i, std::vector<float> x) {
    for (float& v : x) v = f16_to_f32(f32_to_f16(v));
    std::vector<float> y(size_t(n * outs[i]));
    cpu[size_t(i)]->forward(x.data(), y.data(), n);
    return y;
  };
  const auto x = randu(size_t(n * in), 17);
  DeviceArray<float> dx(ops.get(), x, nullptr, MemCategory::Activations);
  std::vector<DeviceArray<float>> dy;
  for (int i = 0; i < 3; ++i) dy.emplace_back(ops.get(), size_t(n * outs[i]), nullptr, MemCategory::Activations);
  cuda::flush();
  const uint64_t before = cuda::graph_stats().launches;
  for (int i = 0; i < 3; ++i) gpu[size_t(i)]->forward(dx.data(), dy[size_t(i)].data(), n);
  CHECK(cuda::graph_stats().launches - before == 4);  // one conversion, three GEMMs
  for (int i = 0; i < 3; ++i) {
    INFO("matrix " << i);
    CHECK(max_diff(to_host(*ops, dy[size_t(i)]), want_of(i, x)) <= 1e-4);
  }
  // New contents in the same buffer: the next GEMM converts again (no stale FP16 copy).
  const auto x2 = randu(size_t(n * in), 18);
  ops->upload(dx.data(), x2.data(), x2.size() * sizeof(float));
  gpu[1]->forward(dx.data(), dy[1].data(), n);
  CHECK(max_diff(to_host(*ops, dy[1]), want_of(1, x2)) <= 1e-4);
  // And the other two on the new contents (the download above flushed: each converts or shares anew).
  gpu[0]->forward(dx.data(), dy[0].data(), n);
  gpu[2]->forward(dx.data(), dy[2].data(), n);
  CHECK(max_diff(to_host(*ops, dy[2]), want_of(2, x2)) <= 1e-4);
}

TEST_CASE("CUDA elementwise ops equal the CPU ops", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  auto c = make_cpu_ops();
  const int64_t rows = 5, dim = 77;
  const auto x = randu(size_t(rows * dim), 1, -3.f, 3.f), w = randu(size_t(dim), 2), b = randu(size_t(dim), 3);
  auto up = [&](const std::vector<float>& v) { return DeviceArray<float>(g.get(), v, nullptr, MemCategory::Activations); };
  {  // rmsnorm
    std::vector<float> want(x.size());
    c->rmsnorm(x.data(), w.data(), want.data(), rows, dim, 1e-6f);
    auto dx = up(x), dw = up(w);
    DeviceArray<float> dy(g.get(), x.size(), nullptr, MemCategory::Activations);
    g->rmsnorm(dx.data(), dw.data(), dy.data(), rows, dim, 1e-6f);
    CHECK(max_diff(to_host(*g, dy), want) <= 1e-5);
  }
  {  // add_bias, add, silu_mul
    std::vector<float> want = x;
    c->add_bias(want.data(), b.data(), rows, dim);
    auto dx = up(x), db = up(b);
    g->add_bias(dx.data(), db.data(), rows, dim);
    CHECK(max_diff(to_host(*g, dx), want) == 0.0);
    const auto y = randu(x.size(), 4, -4.f, 4.f);
    std::vector<float> s(x.size());
    c->silu_mul(x.data(), y.data(), s.data(), int64_t(x.size()));
    auto dx2 = up(x), dy = up(y);
    g->silu_mul(dx2.data(), dy.data(), dx2.data(), int64_t(x.size()));
    CHECK(max_diff(to_host(*g, dx2), s) <= 1e-5);
    c->add(s.data(), y.data(), int64_t(x.size()));
    g->add(dx2.data(), dy.data(), int64_t(x.size()));
    CHECK(max_diff(to_host(*g, dx2), s) <= 1e-5);
  }
  {  // rope at scattered positions up to 30000 (large angles)
    const int64_t r = 7, heads = 3, hd = 64;
    const auto q = randu(size_t(r * heads * hd), 5);
    const std::vector<int32_t> pos = {0, 1, 17, 511, 4095, 12345, 30000};
    std::vector<float> want = q;
    c->rope(want.data(), r, heads, hd, pos.data(), 1e6);
    auto dq = up(q);
    DeviceArray<int32_t> dp(g.get(), pos, nullptr, MemCategory::Activations);
    g->rope(dq.data(), r, heads, hd, dp.data(), 1e6);
    CHECK(max_diff(to_host(*g, dq), want) <= 1e-4);
    // q then k at the same positions: one launch, both rotated.
    const int64_t kheads = 2;
    const auto k = randu(size_t(r * kheads * hd), 6);
    std::vector<float> wantq = q, wantk = k;
    c->rope(wantq.data(), r, heads, hd, pos.data(), 1e6);
    c->rope(wantk.data(), r, kheads, hd, pos.data(), 1e6);
    auto dq2 = up(q), dk = up(k);
    cuda::flush();
    const uint64_t before = cuda::graph_stats().launches;
    g->rope(dq2.data(), r, heads, hd, dp.data(), 1e6);
    g->rope(dk.data(), r, kheads, hd, dp.data(), 1e6);
    CHECK(cuda::graph_stats().launches - before == 1);
    CHECK(max_diff(to_host(*g, dq2), wantq) <= 1e-4);
    CHECK(max_diff(to_host(*g, dk), wantk) <= 1e-4);
  }
}

TEST_CASE("CUDA rmsnorm vector path (dim % 4 == 0) equals the CPU", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  auto c = make_cpu_ops();
  for (int64_t dim : {4, 64, 900, 3584, 8192}) {
    const int64_t rows = 3;
    const auto x = randu(size_t(rows * dim), 50 + uint32_t(dim), -3.f, 3.f), w = randu(size_t(dim), 51);
    std::vector<float> want(x.size());
    c->rmsnorm(x.data(), w.data(), want.data(), rows, dim, 1e-6f);
    DeviceArray<float> dx(g.get(), x, nullptr, MemCategory::Activations), dw(g.get(), w, nullptr, MemCategory::Activations);
    DeviceArray<float> dy(g.get(), x.size(), nullptr, MemCategory::Activations);
    g->rmsnorm(dx.data(), dw.data(), dy.data(), rows, dim, 1e-6f);
    INFO("dim " << dim);
    CHECK(max_diff(to_host(*g, dy), want) <= 1e-5);
  }
}

TEST_CASE("CUDA bias and residual adds after a GEMV fold into its launch and stay exact", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  auto c = make_cpu_ops();
  const int64_t in = 136, oq = 48, ok = 16;
  std::vector<uint16_t> wq, wk;
  for (float v : randu(size_t(in * oq), 31)) wq.push_back(f32_to_f16(v));
  for (float v : randu(size_t(in * ok), 32)) wk.push_back(f32_to_f16(v));
  auto cq = make_dense_linear_cpu(DType::F16, wq.data(), in, oq), ck = make_dense_linear_cpu(DType::F16, wk.data(), in, ok);
  auto gq = make_dense_linear_cuda(DType::F16, wq.data(), in, oq), gk = make_dense_linear_cuda(DType::F16, wk.data(), in, ok);
  for (int64_t n : {1, 3}) {
    const auto x = randu(size_t(n * in), 40 + uint32_t(n)), bq = randu(size_t(oq), 41), bk = randu(size_t(ok), 42);
    const auto res0 = randu(size_t(n * ok), 43);
    // CPU: q = Wq x + bq; k = Wk x + bk; res += k (in the transformer's order).
    std::vector<float> q(size_t(n * oq)), k(size_t(n * ok)), res = res0;
    cq->forward(x.data(), q.data(), n);
    ck->forward(x.data(), k.data(), n);
    c->add_bias(q.data(), bq.data(), n, oq);
    c->add_bias(k.data(), bk.data(), n, ok);
    c->add(res.data(), k.data(), n * ok);
    auto up = [&](const std::vector<float>& v) { return DeviceArray<float>(g.get(), v, nullptr, MemCategory::Activations); };
    auto dx = up(x), dbq = up(bq), dbk = up(bk), dres = up(res0);
    DeviceArray<float> dq(g.get(), q.size(), nullptr, MemCategory::Activations), dk(g.get(), k.size(), nullptr, MemCategory::Activations);
    cuda::flush();
    const uint64_t before = cuda::graph_stats().launches;
    gq->forward(dx.data(), dq.data(), n);
    gk->forward(dx.data(), dk.data(), n);
    g->add_bias(dq.data(), dbq.data(), n, oq);
    g->add_bias(dk.data(), dbk.data(), n, ok);
    g->add(dres.data(), dk.data(), n * ok);
    INFO("n " << n);
    CHECK(cuda::graph_stats().launches - before == 1);  // GEMVs merged, bias and residual folded
    CHECK(max_diff(to_host(*g, dq), q) <= 1e-4);
    CHECK(max_diff(to_host(*g, dk), k) <= 1e-4);
    CHECK(max_diff(to_host(*g, dres), res) <= 1e-4);
    // A bias after the residual was taken must not fold (the residual saw y without it).
    auto dres2 = up(res0);
    cuda::flush();
    const uint64_t b2 = cuda::graph_stats().launches;
    gk->forward(dx.data(), dk.data(), n);
    g->add(dres2.data(), dk.data(), n * ok);
    g->add_bias(dk.data(), dbk.data(), n, ok);
    CHECK(cuda::graph_stats().launches - b2 == 2);
    std::vector<float> kn(size_t(n * ok)), res2 = res0;
    ck->forward(x.data(), kn.data(), n);
    c->add(res2.data(), kn.data(), n * ok);
    c->add_bias(kn.data(), bk.data(), n, ok);
    CHECK(max_diff(to_host(*g, dres2), res2) <= 1e-4);
    CHECK(max_diff(to_host(*g, dk), kn) <= 1e-4);
  }
}

TEST_CASE("CUDA kv_store + attention equal the CPU over a shuffled paged cache", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  auto c = make_cpu_ops();
  struct Case { int64_t heads, kv_heads, head_dim, len, rows; };
  // Prefill-like (many rows), decode (1 row, long context: split path), a few rows, and head_dim 80 (not a power of two).
  for (Case cs : {Case{6, 2, 64, 150, 150}, Case{4, 2, 128, 700, 1}, Case{8, 8, 80, 333, 3}, Case{4, 1, 128, 37, 5}}) {
    for (KvType kt : {KvType::F32, KvType::F16}) {
      const int64_t layers = 2, layer = 1, bt = 16, blocks = (cs.len + bt - 1) / bt * 2 + 1;
      auto cpu_pool = std::make_shared<KvBlockPool>(layers, cs.kv_heads, cs.head_dim, kt, bt, blocks, nullptr, nullptr);
      auto gpu_pool = std::make_shared<KvBlockPool>(layers, cs.kv_heads, cs.head_dim, kt, bt, blocks, nullptr, g.get());
      // Interleave a second sequence so the tested sequence's blocks are out of order and not contiguous.
      KvCache ca(cpu_pool), cb(cpu_pool), ga(gpu_pool), gb(gpu_pool);
      for (int64_t t = bt; t < cs.len + bt; t += bt) {
        REQUIRE(cb.reserve(t)); REQUIRE(ca.reserve(std::min(t, cs.len)));
        REQUIRE(gb.reserve(t)); REQUIRE(ga.reserve(std::min(t, cs.len)));
      }
      const int64_t re = cs.kv_heads * cs.head_dim, qd = cs.heads * cs.head_dim;
      const auto k = randu(size_t(cs.len * re), 21), v = randu(size_t(cs.len * re), 22);
      const auto q = randu(size_t(cs.rows * qd), 23, -2.f, 2.f);
      DeviceArray<float> dk(g.get(), k, nullptr, MemCategory::Activations), dv(g.get(), v, nullptr, MemCategory::Activations);
      for (int64_t p = 0; p < cs.len; p += 37) {  // chunks that straddle blocks
        const int64_t n = std::min<int64_t>(37, cs.len - p);
        c->kv_store(ca, layer, p, k.data() + p * re, v.data() + p * re, n);
        g->kv_store(ga, layer, p, dk.data() + p * re, dv.data() + p * re, n);
      }
      const int64_t pos0 = cs.len - cs.rows;
      std::vector<float> want(size_t(cs.rows * qd));
      c->attention(ca, layer, pos0, q.data(), want.data(), cs.rows, cs.heads);
      DeviceArray<float> dq(g.get(), q, nullptr, MemCategory::Activations);
      DeviceArray<float> dout(g.get(), want.size(), nullptr, MemCategory::Activations);
      g->attention(ga, layer, pos0, dq.data(), dout.data(), cs.rows, cs.heads);
      INFO("heads " << cs.heads << "/" << cs.kv_heads << " head_dim " << cs.head_dim << " len " << cs.len << " rows "
                    << cs.rows << " kv " << kv_type_name(kt));
      // F32: float32 sums in another order only. F16: the CPU's f32_to_f16 and the device's __float2half_rn may
      // store a value one f16 ulp apart (4.9e-4 for |v| in [0.5, 1)); measured 3.2e-4, a wrong kernel is off by ~0.1.
      CHECK(max_diff(to_host(*g, dout), want) <= (kt == KvType::F32 ? 1e-5 : 1e-3));
    }
  }
}

TEST_CASE("CUDA kv_store after rope(q)+rope(k) joins their launch and stores what the separate ops store",
          "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  const int64_t heads = 6, kv_heads = 2, hd = 64, len = 90, bt = 16, layers = 2, layer = 1;
  const int64_t re = kv_heads * hd, qd = heads * hd;
  for (int64_t rows : {int64_t(1), int64_t(5)}) {
    for (KvType kt : {KvType::F32, KvType::F16}) {
      auto pool = std::make_shared<KvBlockPool>(layers, kv_heads, hd, kt, bt, 2 * ((len + bt - 1) / bt) + 1, nullptr, g.get());
      KvCache fused(pool), separate(pool);
      REQUIRE(fused.reserve(len));
      REQUIRE(separate.reserve(len));
      const int64_t pos0 = len - rows;
      const auto k0 = randu(size_t(pos0 * re), 31), v0 = randu(size_t(pos0 * re), 32);
      DeviceArray<float> dk0(g.get(), k0, nullptr, MemCategory::Activations), dv0(g.get(), v0, nullptr, MemCategory::Activations);
      g->kv_store(fused, layer, 0, dk0.data(), dv0.data(), pos0);
      g->kv_store(separate, layer, 0, dk0.data(), dv0.data(), pos0);
      const auto q = randu(size_t(rows * qd), 33, -2.f, 2.f), k = randu(size_t(rows * re), 34), v = randu(size_t(rows * re), 35);
      std::vector<int32_t> pos(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) pos[size_t(r)] = int32_t(pos0 + r);
      DeviceArray<int32_t> dp(g.get(), pos, nullptr, MemCategory::Activations);
      DeviceArray<float> q1(g.get(), q, nullptr, MemCategory::Activations), k1(g.get(), k, nullptr, MemCategory::Activations);
      DeviceArray<float> q2(g.get(), q, nullptr, MemCategory::Activations), k2(g.get(), k, nullptr, MemCategory::Activations);
      DeviceArray<float> dv(g.get(), v, nullptr, MemCategory::Activations);
      cuda::flush();
      const uint64_t before = cuda::graph_stats().launches;
      g->rope(q1.data(), rows, heads, hd, dp.data(), 1e6);
      g->rope(k1.data(), rows, kv_heads, hd, dp.data(), 1e6);
      g->kv_store(fused, layer, pos0, k1.data(), dv.data(), rows);
      CHECK(cuda::graph_stats().launches - before == 1);  // one rope launch with the store folded in
      g->rope(q2.data(), rows, heads, hd, dp.data(), 1e6);
      g->rope(k2.data(), rows, kv_heads, hd, dp.data(), 1e6);
      cuda::flush();  // nothing to join: kv_store gets its own launch
      g->kv_store(separate, layer, pos0, k2.data(), dv.data(), rows);
      CHECK(max_diff(to_host(*g, k1), to_host(*g, k2)) == 0.0);
      CHECK(max_diff(to_host(*g, q1), to_host(*g, q2)) == 0.0);
      // Same cache contents: attention over each (split path at 1 row) gives identical outputs.
      DeviceArray<float> o1(g.get(), size_t(rows * qd), nullptr, MemCategory::Activations);
      DeviceArray<float> o2(g.get(), size_t(rows * qd), nullptr, MemCategory::Activations);
      g->attention(fused, layer, pos0, q1.data(), o1.data(), rows, heads);
      g->attention(separate, layer, pos0, q2.data(), o2.data(), rows, heads);
      INFO("rows " << rows << " kv " << kv_type_name(kt));
      CHECK(max_diff(to_host(*g, o1), to_host(*g, o2)) == 0.0);
    }
  }
}

TEST_CASE("CUDA allocation failure is a clear OutOfMemory with the numbers", "[cuda][cuda-oom]") {
  if (!require_cuda()) return;
  try {
    cuda::device_alloc(size_t(1) << 50, "test buffer");
    FAIL("a 1 PiB allocation succeeded");
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    CHECK(m.find("needed 1073741824 MiB") != std::string::npos);
    CHECK(m.find("MiB free") != std::string::npos);
    CHECK(e.needed_bytes == (size_t(1) << 50));
  }
  // The device still works afterwards.
  void* p = cuda::device_alloc(1024, "small");
  CHECK(p != nullptr);
  cuda::device_free(p);
}
#endif  // QBENCH_HAVE_CUDA
