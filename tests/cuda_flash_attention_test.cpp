// The flash prefill attention (engines/cuda/attention_flash_cuda.h) against exact attention (double): prompts
// and chunked-prefill pieces (pos0 > 0, not on a tile edge), one tile or many, every head_dim it is instantiated
// for, GQA groups 1..7, private and paged (shuffled) caches, alone and inside a batched pass with decode rows.
// K and V are multiples of 1/256 in [-1, 1], exact in FP16, so the cache holds exactly the reference's values
// and the comparison can be tight: what is left is Q and P as FP16 hi + lo (~22 bits) and FP32 sums. (The CPU
// backend is not the reference here: with an F16 cache it rounds Q and P to FP16 as ggml does, ~3e-4 away.)
// Skips (even under CI=true) where no GPU is present.
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "engines/cuda/attention_flash_cuda.h"
#include "engines/cuda/fold_control.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/model/device_array.h"
#include "engines/model/kv_cache.h"
#include "tests/support/cuda_test_support.h"
#include "tests/support/reference_fixture.h"

using namespace qbench;
using namespace qbench::test;

namespace {

// Multiples of 1/256 in [-1, 1]: exact in FP16.
std::vector<float> f16_exact(size_t n, uint32_t seed) {
  auto v = randu(n, seed);
  for (auto& x : v) x = std::round(x * 256.f) / 256.f;
  return v;
}

// out[r][h][:] for queries at positions past + r over keys [0, past + r]; k, v rows in position order.
std::vector<float> exact_attention(const float* k, const float* v, const float* q, int64_t past, int64_t rows,
                                   int64_t heads, int64_t kv_heads, int64_t D) {
  const int64_t re = kv_heads * D, group = heads / kv_heads;
  std::vector<float> out(size_t(rows * heads * D));
  std::vector<double> p, o(static_cast<size_t>(D));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h) {
      const float* qh = q + (r * heads + h) * D;
      const int64_t len = past + r + 1, off = (h / group) * D;
      p.assign(size_t(len), 0.0);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        double d = 0;
        for (int64_t i = 0; i < D; ++i) d += double(qh[i]) * k[j * re + off + i];
        p[size_t(j)] = d / std::sqrt(double(D));
        mx = std::max(mx, p[size_t(j)]);
      }
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < len; ++j) {
        const double e = std::exp(p[size_t(j)] - mx);
        sum += e;
        for (int64_t i = 0; i < D; ++i) o[size_t(i)] += e * v[j * re + off + i];
      }
      for (int64_t i = 0; i < D; ++i) out[size_t((r * heads + h) * D + i)] = float(o[size_t(i)] / sum);
    }
  return out;
}

// Measured on the H100 (see the printout); a wrong mask, tile edge or fragment is off by > 1e-2.
constexpr double kTol = 1e-5;

}  // namespace

TEST_CASE("CUDA flash prefill attention equals exact attention (FP16-exact cache)", "[cuda][cuda-kernels][flash]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  struct Case { int64_t heads, kv_heads, head_dim, past, rows; bool paged; };
  // 7B's prompt, a chunk after 300 tokens, 5 rows (the fewest the flash kernel takes), head_dim 80/96/32,
  // MHA and groups of 2..7, a chunk that starts past 1000 keys, one tile exactly, one row past it.
  const Case cases[] = {{28, 4, 128, 0, 512, false}, {28, 4, 128, 300, 100, true}, {8, 8, 80, 65, 5, true},
                        {12, 2, 96, 1000, 70, true},  {4, 1, 32, 10, 64, false},   {14, 2, 64, 0, 65, true},
                        {6, 6, 64, 17, 130, false}};
  double worst = 0;
  for (const Case& cs : cases) {
    INFO("heads " << cs.heads << "/" << cs.kv_heads << " head_dim " << cs.head_dim << " past " << cs.past << " rows "
                  << cs.rows << (cs.paged ? " paged" : " private"));
    REQUIRE(cuda::flash_attention_supports(cs.head_dim));
    const int64_t layers = 2, layer = 1, len = cs.past + cs.rows, bt = 16;
    const int64_t re = cs.kv_heads * cs.head_dim, qd = cs.heads * cs.head_dim;
    std::shared_ptr<KvBlockPool> pool;
    std::unique_ptr<KvCache> ga, gb;
    if (cs.paged) {  // a second sequence interleaved: the tested one's blocks are scattered and out of order
      pool = std::make_shared<KvBlockPool>(layers, cs.kv_heads, cs.head_dim, KvType::F16, bt, 2 * ((len + bt - 1) / bt) + 2,
                                           nullptr, g.get());
      ga = std::make_unique<KvCache>(pool), gb = std::make_unique<KvCache>(pool);
      for (int64_t t = bt; t < len + bt; t += bt) {
        REQUIRE(gb->reserve(t));
        REQUIRE(ga->reserve(std::min(t, len)));
      }
    } else {
      ga = std::make_unique<KvCache>(layers, len, cs.kv_heads, cs.head_dim, KvType::F16, nullptr, g.get());
    }
    const auto k = f16_exact(size_t(len * re), 41), v = f16_exact(size_t(len * re), 42);
    const auto q = randu(size_t(cs.rows * qd), 43, -2.f, 2.f);
    DeviceArray<float> dk(g.get(), k, nullptr, MemCategory::Activations), dv(g.get(), v, nullptr, MemCategory::Activations);
    g->kv_store(*ga, layer, 0, dk.data(), dv.data(), len);
    const auto want = exact_attention(k.data(), v.data(), q.data(), cs.past, cs.rows, cs.heads, cs.kv_heads, cs.head_dim);
    DeviceArray<float> dq(g.get(), q, nullptr, MemCategory::Activations);
    DeviceArray<float> dout(g.get(), randu(want.size(), 9), nullptr, MemCategory::Activations);  // poisoned
    g->attention(*ga, layer, cs.past, dq.data(), dout.data(), cs.rows, cs.heads);
    const double d = max_abs_diff(to_host(*g, dout).data(), want.data(), int64_t(want.size()));
    worst = std::max(worst, d);
    CHECK(d <= kTol);
  }
  std::printf("cuda flash attention vs exact (FP16-exact cache, 7 shapes): worst max-abs %.3g\n", worst);
}

TEST_CASE("CUDA batched pass: prefill sequences take the flash kernel, decode rows the split kernel",
          "[cuda][cuda-kernels][flash][batch]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  const int64_t heads = 28, kv_heads = 4, hd = 128, layers = 2, layer = 1, bt = 16;
  const int64_t re = kv_heads * hd, qd = heads * hd;
  struct S { int64_t past, rows; };
  // Two prompts (one of several tiles), a chunk after history, decode rows short and long.
  const std::vector<S> ss = {{0, 200}, {37, 1}, {0, 7}, {700, 1}, {130, 77}, {1500, 1}};
  int64_t blocks = 1;
  for (const S& s : ss) blocks += (s.past + s.rows + bt - 1) / bt;
  auto pool = std::make_shared<KvBlockPool>(layers, kv_heads, hd, KvType::F16, bt, blocks, nullptr, g.get());
  std::vector<std::unique_ptr<KvCache>> gc;
  for (size_t i = 0; i < ss.size(); ++i) gc.push_back(std::make_unique<KvCache>(pool));
  for (int64_t t = bt;; t += bt) {  // block by block, round robin: scattered tables
    bool any = false;
    for (size_t i = 0; i < ss.size(); ++i) {
      const int64_t cap = ss[i].past + ss[i].rows;
      if (t - bt >= cap) continue;
      REQUIRE(gc[i]->reserve(std::min(t, cap)));
      any = true;
    }
    if (!any) break;
  }
  // Each sequence's K/V in position order (history, then this pass's rows), for the reference.
  std::vector<std::vector<float>> sk(ss.size()), sv(ss.size());
  for (size_t i = 0; i < ss.size(); ++i) {
    if (!ss[i].past) continue;
    sk[i] = f16_exact(size_t(ss[i].past * re), 60 + uint32_t(i)), sv[i] = f16_exact(size_t(ss[i].past * re), 70 + uint32_t(i));
    DeviceArray<float> dk(g.get(), sk[i], nullptr, MemCategory::Activations), dv(g.get(), sv[i], nullptr, MemCategory::Activations);
    g->kv_store(*gc[i], layer, 0, dk.data(), dv.data(), ss[i].past);
  }
  int64_t rows = 0;
  std::vector<Ops::SeqRows> gr;
  for (size_t i = 0; i < ss.size(); ++i) {
    gr.push_back({gc[i].get(), ss[i].past, ss[i].rows, rows});
    rows += ss[i].rows;
  }
  const auto k = f16_exact(size_t(rows * re), 81), v = f16_exact(size_t(rows * re), 82);
  const auto q = randu(size_t(rows * qd), 83, -2.f, 2.f);
  std::vector<float> want;
  for (size_t i = 0; i < ss.size(); ++i) {
    const auto r0 = ptrdiff_t(gr[i].row0 * re), r1 = ptrdiff_t((gr[i].row0 + ss[i].rows) * re);
    sk[i].insert(sk[i].end(), k.begin() + r0, k.begin() + r1);
    sv[i].insert(sv[i].end(), v.begin() + r0, v.begin() + r1);
    const auto o = exact_attention(sk[i].data(), sv[i].data(), q.data() + gr[i].row0 * qd, ss[i].past, ss[i].rows, heads,
                                   kv_heads, hd);
    want.insert(want.end(), o.begin(), o.end());
  }
  DeviceArray<float> dk(g.get(), k, nullptr, MemCategory::Activations), dv(g.get(), v, nullptr, MemCategory::Activations),
      dq(g.get(), q, nullptr, MemCategory::Activations);
  DeviceArray<float> dout(g.get(), randu(want.size(), 9), nullptr, MemCategory::Activations);  // poisoned
  cuda::flush();
  const uint64_t before = cuda::graph_stats().launches;
  g->attention_batch(layer, gr.data(), int64_t(gr.size()), dk.data(), dv.data(), dq.data(), dout.data(), heads);
  CHECK(cuda::graph_stats().launches - before == 2);  // kv_store, then flash + split kernels in one queued launch
  const double d = max_abs_diff(to_host(*g, dout).data(), want.data(), int64_t(want.size()));
  std::printf("cuda batched pass, flash + split kernels vs exact (FP16-exact cache): max-abs %.3g\n", d);
  CHECK(d <= kTol);
}
// Decode rows whose contexts split alike (same capacity): on sm_90 the splits of a row and KV head run as one
// thread-block cluster and merge in shared memory (attention_flash_cuda.h FlashArgs::cluster). The 7B head
// layout (GQA group 7) with 3, 4 and 11 splits, so that a block of the cluster merges several query heads where the
// group outnumbers the splits: equal to the combine pass bit for bit, and to exact attention.
TEST_CASE("CUDA decode rows split alike: splits merged in thread-block clusters equal the combine pass",
          "[cuda][cuda-kernels][flash][batch]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  const int64_t heads = 28, kv_heads = 4, hd = 128, layers = 1, layer = 0, bt = 16;
  const int64_t re = kv_heads * hd, qd = heads * hd;
  const bool was = cuda::cluster_merge_enabled();
  // (sequences, past): capacity past + 1 each, rounded up to the block size.
  for (const auto& [ns, past] : std::vector<std::pair<int64_t, int64_t>>{{1, 130}, {1, 700}, {3, 190}}) {
    const int64_t cap = (past + 1 + bt - 1) / bt * bt;
    auto pool = std::make_shared<KvBlockPool>(layers, kv_heads, hd, KvType::F16, bt, ns * cap / bt, nullptr, g.get());
    std::vector<std::unique_ptr<KvCache>> gc;
    std::vector<std::vector<float>> sk(static_cast<size_t>(ns)), sv(static_cast<size_t>(ns));
    for (int64_t i = 0; i < ns; ++i) {
      gc.push_back(std::make_unique<KvCache>(pool));
      REQUIRE(gc.back()->reserve(cap));
      sk[size_t(i)] = f16_exact(size_t(past * re), 90 + uint32_t(i)), sv[size_t(i)] = f16_exact(size_t(past * re), 95 + uint32_t(i));
      DeviceArray<float> dk(g.get(), sk[size_t(i)], nullptr, MemCategory::Activations),
          dv(g.get(), sv[size_t(i)], nullptr, MemCategory::Activations);
      g->kv_store(*gc.back(), layer, 0, dk.data(), dv.data(), past);
    }
    std::vector<Ops::SeqRows> gr;
    for (int64_t i = 0; i < ns; ++i) gr.push_back({gc[size_t(i)].get(), past, 1, i});
    const auto k = f16_exact(size_t(ns * re), 101), v = f16_exact(size_t(ns * re), 102);
    const auto q = randu(size_t(ns * qd), 103, -2.f, 2.f);
    std::vector<float> want;
    for (int64_t i = 0; i < ns; ++i) {
      sk[size_t(i)].insert(sk[size_t(i)].end(), k.begin() + i * re, k.begin() + (i + 1) * re);
      sv[size_t(i)].insert(sv[size_t(i)].end(), v.begin() + i * re, v.begin() + (i + 1) * re);
      const auto o = exact_attention(sk[size_t(i)].data(), sv[size_t(i)].data(), q.data() + i * qd, past, 1, heads, kv_heads, hd);
      want.insert(want.end(), o.begin(), o.end());
    }
    DeviceArray<float> dk(g.get(), k, nullptr, MemCategory::Activations), dv(g.get(), v, nullptr, MemCategory::Activations),
        dq(g.get(), q, nullptr, MemCategory::Activations);
    std::vector<float> got[2];
    unsigned long long merged[2] = {0, 0};
    for (int on = 0; on < 2; ++on) {
      cuda::set_cluster_merge_enabled(on == 1);
      DeviceArray<float> dout(g.get(), randu(want.size(), 9), nullptr, MemCategory::Activations);  // poisoned
      const unsigned long long m0 = cuda::cluster_merges();
      g->attention_batch(layer, gr.data(), ns, dk.data(), dv.data(), dq.data(), dout.data(), heads);
      merged[on] = cuda::cluster_merges() - m0;
      got[on] = to_host(*g, dout);
    }
    const double d = max_abs_diff(got[1].data(), want.data(), int64_t(want.size()));
    const double d01 = max_abs_diff(got[1].data(), got[0].data(), int64_t(want.size()));
    std::printf("cuda decode, %lld sequences at %lld past: clustered %llu, max-abs vs exact %.3g, vs combine pass %.3g\n",
                (long long)ns, (long long)past, merged[1], d, d01);
    INFO(ns << " sequences, past " << past);
    CHECK(merged[0] == 0);
    CHECK(d <= kTol);
    CHECK(d01 == 0.0);
  }
  cuda::set_cluster_merge_enabled(was);
}
#endif  // QBENCH_HAVE_CUDA
