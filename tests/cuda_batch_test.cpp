// Batched decode on CUDA (issue 9): many sequences of different lengths in one
// pass give the tokens each gives alone; the kernels behind it (the tensor-core
// decode GEMM of 2..64 tokens, kv_store + attention of many sequences in one
// launch, greedy argmax on the device) against the CPU on awkward shapes.
// Skips (even under CI=true) where no GPU is present.
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "engines/core/half.h"
#include "engines/cpu/linear_dense_cpu.h"
#include "engines/cpu/ops_cpu.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_dense_cuda.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/cuda/register_cuda.h"
#include "engines/model/device_array.h"
#include "engines/model/sampler.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/cuda_test_support.h"
#include "tests/support/greedy_alone.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

// B prompts of different lengths: the fixture's reference sequences, then seeded random ids.
std::vector<std::vector<int32_t>> prompts_for(int B, int64_t vocab) {
  std::vector<std::vector<int32_t>> p;
  for (auto& s : reference_sequences())
    if (int(p.size()) < B) p.push_back(s.ids);
  std::mt19937 g(1234);
  std::uniform_int_distribution<int32_t> id(0, int32_t(vocab - 1));
  while (int(p.size()) < B) {
    std::vector<int32_t> ids(size_t(1 + (p.size() * 13) % 90));
    for (auto& t : ids) t = id(g);
    p.push_back(std::move(ids));
  }
  return p;
}

// Top value minus the value at `i` (how close a different pick was to a tie).
float margin(const float* x, int64_t n, int32_t i) { return x[argmax(x, n)] - x[i]; }

struct Path {
  cuda::DensePath p;
  ~Path() { cuda::force_dense_path(cuda::DensePath::Auto); }
};

}  // namespace

TEST_CASE("cuda batched greedy decode equals each sequence alone (tiny fixture, 5 sequences, F32 KV)", "[cuda][batch]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  register_cuda_device();
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  lo.device = "cuda";
  auto e = load_engine(lo);
  Transformer& m = e->model();
  const int64_t V = m.config().vocab_size;
  const int steps = 12;
  const auto prompts = prompts_for(5, V);
  // Alone: prompt, then greedy token by token (batch 1: the GEMV and the single-sequence attention).
  const GreedyAlone ref = greedy_alone(m, prompts, steps, KvType::F32);
  const auto& alone = ref.tokens;
  const auto& alone_logits = ref.logits;
  // Together: one pool of 8-token blocks (the sequences' blocks interleave); each prompt prefilled on its
  // own (the same kernels as alone: a mixed prefill pass rounds activations to FP16, tested below), then
  // each step one batch: 5 tokens through the tensor-core GEMM (hi+lo activations) and the batched
  // attention; tokens picked on the device (forward_batch_greedy), logits checked through forward_batch.
  auto pool = m.new_kv_pool(2048, KvType::F32, 8);
  std::vector<Sequence> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) seqs.push_back(m.new_sequence_in(pool));
  std::vector<int32_t> next;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> one;
    m.forward_batch_greedy({{&seqs[i], prompts[i].data(), int64_t(prompts[i].size()), true}}, one);
    REQUIRE(one.size() == 1);
    next.push_back(one[0]);
  }
  std::vector<Transformer::BatchItem> items;
  std::vector<std::vector<int32_t>> together(prompts.size());
  double worst = 0;
  for (int t = 0; t < steps; ++t) {
    REQUIRE(next.size() == prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) together[i].push_back(next[i]);
    items.clear();
    for (size_t i = 0; i < prompts.size(); ++i) items.push_back({&seqs[i], &together[i].back(), 1, true});
    if (t + 1 < steps && t % 2 == 1) {  // every other step through forward_batch: compare the logits too
      std::vector<float> lg;
      m.forward_batch(items, lg);
      next.resize(prompts.size());
      for (size_t i = 0; i < prompts.size(); ++i) {
        worst = std::max(worst, max_abs_diff(lg.data() + i * V, alone_logits[i][size_t(t + 1)].data(), V));
        next[i] = argmax(lg.data() + i * V, V);
      }
    } else {
      m.forward_batch_greedy(items, next);
    }
  }
  std::printf("cuda batched (5, tensor-core hi+lo) vs alone: worst logit max-abs %.3g\n", worst);
  CHECK(worst <= 1e-4);
  CHECK(together == alone);
}

TEST_CASE("cuda batched decode at 20 and 70 sequences (FP16 activations, cuBLAS) picks each one's greedy token",
          "[cuda][batch]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  register_cuda_device();
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  lo.device = "cuda";
  auto e = load_engine(lo);
  Transformer& m = e->model();
  const int64_t V = m.config().vocab_size;
  const int steps = 10;
  for (int B : {20, 70}) {
    const auto prompts = prompts_for(B, V);
    // Alone (batch 1, FP32 activations), greedy; kept: each step's token and logits.
    const GreedyAlone ref = greedy_alone(m, prompts, steps, KvType::F16);
    const auto& alone = ref.tokens;
    const auto& alone_logits = ref.logits;
    // Together, fed the tokens each produced alone (teacher forcing keeps the sequences comparable): above
    // 16 tokens the GEMMs round activations to FP16 (README tolerance: max-abs 0.03), so a pick may differ
    // from the FP32 one only where the two were within that of a tie.
    auto pool = m.new_kv_pool(B * 128, KvType::F16, 16);
    std::vector<Sequence> seqs;
    for (int i = 0; i < B; ++i) seqs.push_back(m.new_sequence_in(pool));
    std::vector<Transformer::BatchItem> items;
    for (int i = 0; i < B; ++i)
      items.push_back({&seqs[size_t(i)], prompts[size_t(i)].data(), int64_t(prompts[size_t(i)].size()), true});
    std::vector<int32_t> got;
    double worst = 0;
    int near_ties = 0, picks = 0;
    for (int t = 0; t < steps; ++t) {
      std::vector<float> lg;
      if (t % 3 == 2) {
        m.forward_batch(items, lg);
        got.resize(size_t(B));
        for (int i = 0; i < B; ++i) {
          worst = std::max(worst, max_abs_diff(lg.data() + int64_t(i) * V, alone_logits[size_t(i)][size_t(t)].data(), V));
          got[size_t(i)] = argmax(lg.data() + int64_t(i) * V, V);
        }
      } else {
        m.forward_batch_greedy(items, got);
      }
      REQUIRE(got.size() == size_t(B));
      for (int i = 0; i < B; ++i) {
        ++picks;
        if (got[size_t(i)] == alone[size_t(i)][size_t(t)]) continue;
        const float mg = margin(alone_logits[size_t(i)][size_t(t)].data(), V, got[size_t(i)]);
        INFO("B " << B << " sequence " << i << " step " << t << ": batched " << got[size_t(i)] << ", alone "
                  << alone[size_t(i)][size_t(t)] << ", margin " << mg);
        CHECK(mg <= 0.03f);
        ++near_ties;
      }
      items.clear();
      for (int i = 0; i < B; ++i) items.push_back({&seqs[size_t(i)], &alone[size_t(i)][size_t(t)], 1, true});
    }
    std::printf("cuda batched (%d) vs alone: worst logit max-abs %.3g, %d of %d picks differ (near ties)\n", B, worst,
                near_ties, picks);
    CHECK(worst <= 0.03);
    CHECK(near_ties * 50 <= picks);  // at most 2%: a wrong kernel differs nearly everywhere
  }
}

TEST_CASE("cuda tensor-core decode GEMM equals the CPU Linear (2..64 tokens, merged, folded, awkward shapes)",
          "[cuda][cuda-kernels][batch]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  Path guard{cuda::DensePath::TensorCore};
  struct Shape { int64_t in, out; };
  for (DType dt : {DType::F16, DType::BF16}) {
    for (Shape s : {Shape{72, 37}, Shape{264, 8}, Shape{1000, 131}, Shape{3584, 40}, Shape{40, 300}}) {
      const auto wf = randu(size_t(s.in * s.out), 7);
      std::vector<uint16_t> w16(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) w16[i] = dt == DType::BF16 ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
      auto cpu_l = make_dense_linear_cpu(dt, w16.data(), s.in, s.out);
      auto gpu_l = make_dense_linear_cuda(dt, w16.data(), s.in, s.out);
      for (int64_t n : {2, 3, 8, 9, 16, 17, 31, 33, 64}) {
        for (cuda::DensePath p : {cuda::DensePath::TensorCore, cuda::DensePath::Cublas}) {
          cuda::force_dense_path(p);
          const auto x = randu(size_t(n * s.in), 11 + uint32_t(n));
          std::vector<float> want(size_t(n * s.out));
          cpu_l->forward(x.data(), want.data(), n);
          DeviceArray<float> dx(ops.get(), x, nullptr, MemCategory::Activations);
          DeviceArray<float> dy(ops.get(), randu(size_t(n * s.out), 99), nullptr, MemCategory::Activations);  // poisoned
          gpu_l->forward(dx.data(), dy.data(), n);
          const auto got = to_host(*ops, dy);
          // Tensor-core path up to 16 tokens: activations split hi + lo (FP32-like); beyond it, and through
          // cuBLAS, rounded to the weight type.
          const double rel = p == cuda::DensePath::TensorCore && n <= 16 ? 1e-5 : dt == DType::F16 ? 2e-3 : 1e-2;
          for (int64_t t = 0; t < n; ++t)
            for (int64_t o = 0; o < s.out; ++o) {
              double S = 0;
              for (int64_t k = 0; k < s.in; ++k) {
                const float wk = dt == DType::BF16 ? bf16_to_f32(w16[size_t(o * s.in + k)]) : f16_to_f32(w16[size_t(o * s.in + k)]);
                S += std::fabs(double(x[size_t(t * s.in + k)]) * wk);
              }
              const double d = std::fabs(double(got[size_t(t * s.out + o)]) - want[size_t(t * s.out + o)]);
              INFO(dtype_name(dt) << " in " << s.in << " out " << s.out << " n " << n << " t " << t << " o " << o
                                  << (p == cuda::DensePath::Cublas ? " cublas" : " tensor-core"));
              REQUIRE(d <= rel * S + 1e-6);
            }
        }
      }
    }
  }
  // q/k/v-like merge with bias and residual folds, through the tensor-core path.
  cuda::force_dense_path(cuda::DensePath::TensorCore);
  auto c = make_cpu_ops();
  const int64_t in = 264, oq = 48, ok = 16, n = 12;
  std::vector<uint16_t> wq, wk;
  for (float v : randu(size_t(in * oq), 31)) wq.push_back(f32_to_f16(v));
  for (float v : randu(size_t(in * ok), 32)) wk.push_back(f32_to_f16(v));
  auto cq = make_dense_linear_cpu(DType::F16, wq.data(), in, oq), ck = make_dense_linear_cpu(DType::F16, wk.data(), in, ok);
  auto gq = make_dense_linear_cuda(DType::F16, wq.data(), in, oq), gk = make_dense_linear_cuda(DType::F16, wk.data(), in, ok);
  const auto x = randu(size_t(n * in), 40), bq = randu(size_t(oq), 41), bk = randu(size_t(ok), 42), res0 = randu(size_t(n * ok), 43);
  std::vector<float> q(size_t(n * oq)), k(size_t(n * ok)), res = res0;
  cq->forward(x.data(), q.data(), n);
  ck->forward(x.data(), k.data(), n);
  c->add_bias(q.data(), bq.data(), n, oq);
  c->add_bias(k.data(), bk.data(), n, ok);
  c->add(res.data(), k.data(), n * ok);
  auto up = [&](const std::vector<float>& v) { return DeviceArray<float>(ops.get(), v, nullptr, MemCategory::Activations); };
  auto dx = up(x), dbq = up(bq), dbk = up(bk), dres = up(res0);
  DeviceArray<float> dq(ops.get(), q.size(), nullptr, MemCategory::Activations), dk(ops.get(), k.size(), nullptr, MemCategory::Activations);
  cuda::flush();
  const uint64_t before = cuda::graph_stats().launches;
  gq->forward(dx.data(), dq.data(), n);
  gk->forward(dx.data(), dk.data(), n);
  ops->add_bias(dq.data(), dbq.data(), n, oq);
  ops->add_bias(dk.data(), dbk.data(), n, ok);
  ops->add(dres.data(), dk.data(), n * ok);
  CHECK(cuda::graph_stats().launches - before == 1);  // merged, bias and residual folded
  CHECK(max_abs_diff(to_host(*ops, dq).data(), q.data(), int64_t(q.size())) <= 1e-4);
  CHECK(max_abs_diff(to_host(*ops, dk).data(), k.data(), int64_t(k.size())) <= 1e-4);
  CHECK(max_abs_diff(to_host(*ops, dres).data(), res.data(), int64_t(res.size())) <= 1e-4);
}

TEST_CASE("cuda kv_store + attention of many sequences in one launch equal the CPU, one sequence at a time",
          "[cuda][cuda-kernels][batch]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  auto c = make_cpu_ops();
  struct Case { int64_t heads, kv_heads, head_dim; };
  // 7B's 28/4 x 128, 0.5B-like 14/2 x 64, a group of 8, head_dim 80, and MHA.
  for (Case cs : {Case{28, 4, 128}, Case{14, 2, 64}, Case{16, 2, 64}, Case{8, 4, 80}, Case{4, 4, 128}}) {
    for (KvType kt : {KvType::F32, KvType::F16}) {
      const int64_t layers = 2, layer = 1, bt = 16, re = cs.kv_heads * cs.head_dim, qd = cs.heads * cs.head_dim;
      // Sequences: (history already in the cache, rows in this pass, capacity): decode rows at short and long
      // contexts (one split and several), a prefill chunk, a first prompt, and a long prefill chunk (> 1024 keys).
      struct S { int64_t past, rows, cap; };
      const std::vector<S> ss = {{0, 1, 16}, {37, 1, 64}, {700, 1, 800}, {0, 45, 64}, {130, 23, 200}, {2000, 1, 2100},
                                 {1100, 30, 1200}, {5, 1, 3000}};
      int64_t blocks = 1;
      for (auto& s : ss) blocks += (s.cap + bt - 1) / bt;
      auto cpu_pool = std::make_shared<KvBlockPool>(layers, cs.kv_heads, cs.head_dim, kt, bt, blocks, nullptr, nullptr);
      auto gpu_pool = std::make_shared<KvBlockPool>(layers, cs.kv_heads, cs.head_dim, kt, bt, blocks, nullptr, g.get());
      std::vector<std::unique_ptr<KvCache>> cc, gc;
      for (size_t i = 0; i < ss.size(); ++i) {
        cc.push_back(std::make_unique<KvCache>(cpu_pool));
        gc.push_back(std::make_unique<KvCache>(gpu_pool));
      }
      // Reserve block by block, round robin: every sequence's table is scattered over the pool.
      for (int64_t t = bt;; t += bt) {
        bool any = false;
        for (size_t i = 0; i < ss.size(); ++i)
          if (t - bt < ss[i].cap) {
            REQUIRE(cc[i]->reserve(std::min(t, ss[i].cap)));
            REQUIRE(gc[i]->reserve(std::min(t, ss[i].cap)));
            any = true;
          }
        if (!any) break;
      }
      // History: written one sequence at a time (single-sequence kv_store on both devices).
      for (size_t i = 0; i < ss.size(); ++i) {
        if (!ss[i].past) continue;
        const auto k = randu(size_t(ss[i].past * re), 100 + uint32_t(i)), v = randu(size_t(ss[i].past * re), 200 + uint32_t(i));
        DeviceArray<float> dk(g.get(), k, nullptr, MemCategory::Activations), dv(g.get(), v, nullptr, MemCategory::Activations);
        c->kv_store(*cc[i], layer, 0, k.data(), v.data(), ss[i].past);
        g->kv_store(*gc[i], layer, 0, dk.data(), dv.data(), ss[i].past);
      }
      // This pass: rows stacked over all sequences.
      int64_t rows = 0;
      std::vector<Ops::SeqRows> cr, gr;
      for (size_t i = 0; i < ss.size(); ++i) {
        cr.push_back({cc[i].get(), ss[i].past, ss[i].rows, rows});
        gr.push_back({gc[i].get(), ss[i].past, ss[i].rows, rows});
        rows += ss[i].rows;
      }
      const auto k = randu(size_t(rows * re), 301), v = randu(size_t(rows * re), 302), q = randu(size_t(rows * qd), 303, -2.f, 2.f);
      std::vector<float> want(size_t(rows * qd));
      c->attention_batch(layer, cr.data(), int64_t(cr.size()), k.data(), v.data(), q.data(), want.data(), cs.heads);
      DeviceArray<float> dk(g.get(), k, nullptr, MemCategory::Activations), dv(g.get(), v, nullptr, MemCategory::Activations),
          dq(g.get(), q, nullptr, MemCategory::Activations);
      DeviceArray<float> dout(g.get(), randu(want.size(), 9), nullptr, MemCategory::Activations);  // poisoned
      cuda::flush();
      const uint64_t before = cuda::graph_stats().launches;
      g->attention_batch(layer, gr.data(), int64_t(gr.size()), dk.data(), dv.data(), dq.data(), dout.data(), cs.heads);
      INFO("heads " << cs.heads << "/" << cs.kv_heads << " head_dim " << cs.head_dim << " kv " << kv_type_name(kt));
      CHECK(cuda::graph_stats().launches - before == 2);  // one kv_store, one attention (+ combine) for all
      const auto got = to_host(*g, dout);
      // As the single-sequence attention test: F16 stores may differ by one f16 ulp from the CPU's.
      CHECK(max_abs_diff(got.data(), want.data(), int64_t(want.size())) <= (kt == KvType::F32 ? 1e-5 : 1e-3));
    }
  }
}

TEST_CASE("cuda argmax_rows picks each row's largest value, lowest index on ties", "[cuda][cuda-kernels][batch]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  const int64_t rows = 7, n = 152064;
  auto x = randu(size_t(rows * n), 5, -10.f, 10.f);
  x[size_t(1 * n + 77)] = 50.f;  // ties: lowest index wins
  x[size_t(1 * n + 150000)] = 50.f;
  x[size_t(2 * n + n - 1)] = 60.f;  // the last element
  x[size_t(3 * n)] = 70.f;          // the first
  for (int64_t i = 0; i < n; ++i) x[size_t(4 * n + i)] = -3.f;  // all equal: index 0
  DeviceArray<float> dx(g.get(), x, nullptr, MemCategory::Activations);
  std::vector<int32_t> got(size_t(rows), -7);
  g->argmax_rows(dx.data(), rows, n, got.data());
  for (int64_t r = 0; r < rows; ++r) {
    INFO("row " << r);
    CHECK(got[size_t(r)] == argmax(x.data() + r * n, n));
  }
  CHECK(got[1] == 77);
  CHECK(got[2] == n - 1);
  CHECK(got[3] == 0);
  CHECK(got[4] == 0);
}

TEST_CASE("cuda argmax over one row splits it into chunks and still keeps the lowest index", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto g = make_cuda_ops();
  // One row is cut into up to 128 chunks (argmax_cuda.cu): equal maxima in different chunks, the maximum in the
  // last chunk, an odd length (no float4 loads), and repeated launches (the chunk counter resets itself).
  for (int64_t n : {int64_t(152064), int64_t(100003), int64_t(5000), int64_t(3)}) {
    for (int64_t hit : {int64_t(0), n / 2, n - 1}) {
      auto x = randu(size_t(n), uint32_t(n + hit), -10.f, 10.f);
      x[size_t(hit)] = 40.f;
      if (hit + 1300 < n) x[size_t(hit + 1300)] = 40.f;  // a tie further on: the first one wins
      DeviceArray<float> dx(g.get(), x, nullptr, MemCategory::Activations);
      for (int rep = 0; rep < 3; ++rep) {
        std::vector<int32_t> got(1, -7);
        g->argmax_rows(dx.data(), 1, n, got.data());
        INFO("n " << n << ", max at " << hit << ", launch " << rep);
        CHECK(got[0] == int32_t(hit));
      }
    }
  }
}
#endif  // QBENCH_HAVE_CUDA
