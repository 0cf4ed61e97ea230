// GPTQ/AWQ int4 on CUDA (issue 7): the int4 CUDA Linear against the CPU
// Linear on random codes of awkward shapes (GEMV and dequant + GEMM paths,
// act-order, group 32/64/128/one group, F16 and non-F16 scales, the embedding
// gather, merged GEMVs with folded bias/residual adds), and the gptq-int4 /
// awq-int4 backends on ../shared/fixtures/tiny-qwen2/{gptq,gptq-actorder,awq}
// against the reference logits and the CPU backend. Skips where no GPU is
// present (also under CI=true: CI compiles these only).
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/cpu/linear_int4_cpu.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_int4_cuda.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/cuda/register_cuda.h"
#include "engines/model/device_array.h"
#include "engines/model/sampler.h"
#include "engines/quant/int4_codes.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/cuda_producer_fold.h"
#include "tests/support/cuda_test_support.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

// Random codes of one shape. group <= 0: one group. act_order: g_idx a shuffle of i / group
// (every group gets exactly `group` inputs, as GPTQ act-order does). f16: scales exactly F16 values.
quant::Int4Codes random_codes(int64_t in, int64_t out, int64_t group, bool act_order, bool f16, uint32_t seed) {
  quant::Int4Codes c;
  c.resize(in, out, group);
  std::mt19937 g(seed);
  for (auto& q : c.q) q = uint8_t(g() % 16);
  for (auto& z : c.zero) z = uint8_t(g() % 17);  // classic GPTQ zero points reach 16
  std::uniform_real_distribution<float> d(0.001f, 0.05f);
  for (auto& s : c.scale) s = f16 ? f16_to_f32(f32_to_f16(d(g))) : d(g);
  if (act_order) {
    c.g_idx.resize(size_t(in));
    for (int64_t i = 0; i < in; ++i) c.g_idx[size_t(i)] = int32_t(i / c.group_size);
    std::shuffle(c.g_idx.begin(), c.g_idx.end(), g);
  }
  return c;
}

std::unique_ptr<Linear> to_cuda(const Linear& cpu) {
  REQUIRE(cpu.int4_packed() != nullptr);
  return make_int4_linear_cuda(*cpu.int4_packed(), cpu.kind());
}

// Worst |got − want| / (Σ|x·w| over the row), with w the exact dequantised weights.
double worst_relative(const quant::Int4Codes& c, const std::vector<float>& x, int64_t n, const std::vector<float>& got,
                      const std::vector<float>& want) {
  double worst = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t o = 0; o < c.out; ++o) {
      double S = 0;
      for (int64_t i = 0; i < c.in; ++i) S += std::fabs(double(x[size_t(t * c.in + i)]) * c.dequant(o, i));
      const double d = std::fabs(double(got[size_t(t * c.out + o)]) - want[size_t(t * c.out + o)]);
      worst = std::max(worst, d / (S + 1e-30));
    }
  return worst;
}

}  // namespace

TEST_CASE("CUDA int4 Linear equals the CPU int4 Linear (GEMV and GEMM, awkward shapes)", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  struct Shape {
    int64_t in, out, group;
    bool act_order, f16;
  };
  const Shape shapes[] = {
      {200, 37, 32, false, true},   // in not a multiple of 128 (nor of 256), odd out
      {336, 29, 64, true, true},    // act-order
      {1000, 131, 128, false, true},  // partial last group
      {264, 8, -1, false, true},    // one group
      {512, 77, 128, true, true},   // act-order, group 128
      {100, 5, 32, false, true},    // in % 8 != 0: the GEMV reads a padded copy
      {640, 19, 64, true, false},   // scales that are no F16 values (float2 layout)
      {768, 64, 128, false, false},
      {4100, 45, 128, true, true},  // 33 units over few row blocks: split-K 16 (16-warp blocks), uneven shares
      // More row blocks than a split-K 2 wave holds (> 2112 on an H100): no split, blocks of 9 warps (the
      // balanced block size); F16 scales (half2) and not (float2).
      {384, 34000, 128, false, true},
      {640, 34003, 64, false, false},
  };
  for (const Shape& s : shapes) {
    const auto codes = random_codes(s.in, s.out, s.group, s.act_order, s.f16, uint32_t(s.in * 31 + s.out));
    auto cpu_l = make_int4_linear_cpu(codes, "gptq-int4-test");
    auto gpu_l = to_cuda(*cpu_l);
    CHECK(gpu_l->in_features() == s.in);
    CHECK(gpu_l->out_features() == s.out);
    CHECK(gpu_l->kind() == "gptq-int4-test");
    // Device bytes: codes (rows to 16, inputs to 128) + (s, z) per row block and group + the permutation.
    const int64_t rb = (s.out + 15) / 16, ip = (s.in + 127) / 128 * 128;
    const uint64_t want_bytes = uint64_t(rb * 16 * ip / 2) + uint64_t(rb * codes.groups * 16) * (s.f16 ? 4 : 8) +
                                (s.act_order ? uint64_t(s.in) * 4 : 0);
    CHECK(gpu_l->weight_bytes() == want_bytes);
    for (int64_t n : {1, 3, 8, 9, 37}) {
      const auto x = randu(size_t(n * s.in), 11 + uint32_t(n));
      std::vector<float> want(size_t(n * s.out));
      cpu_l->forward(x.data(), want.data(), n);
      DeviceArray<float> dx(ops.get(), x, nullptr, MemCategory::Activations);
      DeviceArray<float> dy(ops.get(), size_t(n * s.out), nullptr, MemCategory::Activations);
      gpu_l->forward(dx.data(), dy.data(), n);
      const auto got = to_host(*ops, dy);
      const double rel = worst_relative(codes, x, n, got, want);
      // GEMV: x as FP16 hi + lo (~22 bits), exact q − z, FP32 sums on the tensor cores, scales in FP32.
      // GEMM: x and W each rounded to FP16 (2^-11 relative each) with FP32 accumulation: at most ~9.8e-4 of Σ|x·w|.
      const double bound = n <= 8 ? 1e-5 : 1e-3;
      INFO("in " << s.in << " out " << s.out << " group " << s.group << " act-order " << s.act_order << " f16 scales "
                 << s.f16 << " n " << n << ": worst error / sum|x w| " << rel);
      CHECK(rel <= bound);
      std::printf("cuda int4 kernel in %lld out %lld group %lld%s%s n %lld: worst err / sum|xw| %.3g\n",
                  (long long)s.in, (long long)s.out, (long long)s.group, s.act_order ? " act-order" : "",
                  s.f16 ? "" : " f32-scales", (long long)n, rel);
    }
    // Embedding lookup: exact, in the original input order.
    const std::vector<int32_t> ids = {int32_t(s.out - 1), 0, int32_t(5 % s.out), int32_t(s.out / 2)};
    std::vector<float> want(ids.size() * size_t(s.in));
    cpu_l->gather_rows(ids.data(), int64_t(ids.size()), want.data());
    DeviceArray<float> dg(ops.get(), want.size(), nullptr, MemCategory::Activations);
    gpu_l->gather_rows(ids.data(), int64_t(ids.size()), dg.data());
    CHECK(to_host(*ops, dg) == want);
    const int32_t bad = int32_t(s.out);
    CHECK_THROWS_AS(gpu_l->gather_rows(&bad, 1, dg.data()), Error);
  }
}

TEST_CASE("CUDA int4 GEMVs over one input merge, and bias/residual adds fold into them", "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  const int64_t in = 512;
  const int64_t outs[3] = {96, 32, 36};  // q/k/v-like
  for (bool act_order : {false, true}) {
    // One input, one act-order permutation (as q/k/v of one layer share their Hessian's order).
    auto c0 = random_codes(in, outs[0], 128, act_order, true, 5);
    std::vector<quant::Int4Codes> cs = {c0, random_codes(in, outs[1], 128, false, true, 6),
                                        random_codes(in, outs[2], 128, false, true, 7)};
    for (int i = 1; i < 3; ++i) cs[size_t(i)].g_idx = c0.g_idx;
    std::vector<std::unique_ptr<Linear>> cpu, gpu;
    for (auto& c : cs) {
      cpu.push_back(make_int4_linear_cpu(c, "gptq-int4-g128"));
      gpu.push_back(to_cuda(*cpu.back()));
    }
    for (int64_t n : {1, 5}) {
      const auto x = randu(size_t(n * in), 3 + uint32_t(n));
      DeviceArray<float> dx(ops.get(), x, nullptr, MemCategory::Activations);
      std::vector<DeviceArray<float>> dy;
      for (int i = 0; i < 3; ++i) dy.emplace_back(ops.get(), size_t(n * outs[i]), nullptr, MemCategory::Activations);
      const auto bias = randu(size_t(outs[0]), 77);
      const auto r0 = randu(size_t(n * outs[2]), 78);
      DeviceArray<float> db(ops.get(), bias, nullptr, MemCategory::Activations);
      DeviceArray<float> dres(ops.get(), r0, nullptr, MemCategory::Activations);
      cuda::flush();
      const uint64_t before = cuda::graph_stats().launches;
      for (int i = 0; i < 3; ++i) gpu[size_t(i)]->forward(dx.data(), dy[size_t(i)].data(), n);
      ops->add_bias(dy[0].data(), db.data(), n, outs[0]);  // folds into the GEMV epilogue
      ops->add(dres.data(), dy[2].data(), n * outs[2]);     // residual add: folds too
      // One merged GEMV + one activation-fragment pack (it also permutes); the adds cost no launch.
      CHECK(cuda::graph_stats().launches - before == 2u);
      for (int i = 0; i < 3; ++i) {
        std::vector<float> want(size_t(n * outs[i]));
        cpu[size_t(i)]->forward(x.data(), want.data(), n);
        if (i == 0)
          for (int64_t t = 0; t < n; ++t)
            for (int64_t o = 0; o < outs[0]; ++o) want[size_t(t * outs[0] + o)] += bias[size_t(o)];
        const auto got = to_host(*ops, dy[size_t(i)]);
        // FP32 sums in another order: relative to sum |x w| (values reach ~100 here).
        INFO("act-order " << act_order << " matrix " << i << " n " << n);
        CHECK(worst_relative(cs[size_t(i)], x, n, got, want) <= 1e-5);
        if (i == 2) {
          const auto res = to_host(*ops, dres);
          std::vector<float> res_y(res.size());
          for (size_t k = 0; k < res.size(); ++k) res_y[k] = res[k] - r0[k];
          CHECK(worst_relative(cs[2], x, n, res_y, want) <= 1e-5);
        }
      }
    }
  }
}

TEST_CASE("CUDA int4 GEMV fragments fold into the RMSNorm / SiLU·mul before it: bit-identical, one launch fewer",
          "[cuda][cuda-kernels]") {
  if (!require_cuda()) return;
  auto ops = make_cuda_ops();
  const int64_t out = 40;
  // 256 and 640 inputs fold (natural order, whole units); act-order and 200 inputs (padded) keep the pack.
  for (int64_t in : {256, 640, 200})
    for (bool act_order : {false, true})
      for (int64_t n : {1, 3, 6}) {
        auto c = random_codes(in, out, 64, act_order, true, 11 + uint32_t(in));
        auto cpu = make_int4_linear_cpu(c, "gptq-int4-g64");
        auto gpu = to_cuda(*cpu);
        for (bool silu : {false, true}) {
          const ProducerFold f = producer_then_linear(*ops, *gpu, n, silu);
          INFO("in " << in << " act-order " << act_order << " n " << n << (silu ? " silu_mul" : " rmsnorm"));
          CHECK(f.launches_off == 3u);
          CHECK(f.launches_on == (!act_order && in % 128 == 0 ? 2u : 3u));
          REQUIRE(f.on.size() == f.off.size());
          CHECK(std::memcmp(f.on.data(), f.off.data(), f.on.size() * sizeof(float)) == 0);
        }
      }
}

namespace {

struct Int4Fixture {
  const char* dir;  // under tiny-qwen2/, also the reference format name
};
const Int4Fixture kFixtures[] = {{"gptq"}, {"gptq-actorder"}, {"awq"}};


}  // namespace

TEST_CASE("int4 on cuda: prefill logits match the reference (fp16-activation tolerance)", "[cuda][int4]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  for (auto& f : kFixtures) {
    auto e = load_tiny_fixture(f.dir, "cuda");
    REQUIRE(e->info().device == "cuda");
    const int64_t V = e->config().vocab_size;
    // The GEMM path rounds activations and dequantised weights to FP16: README column "fp16 activations".
    double worst = 0, kl_sum = 0;
    int rows = 0;
    for (auto& seq : reference_sequences()) {
      const RefLogits ref = reference_logits(f.dir, seq.name);
      Sequence s = e->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
      std::vector<float> got;
      e->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::All, got);
      for (int64_t r = 0; r < ref.rows; ++r) {
        const double d = max_abs_diff(got.data() + (ref.first_pos + r) * V, ref.data.data() + r * V, V);
        kl_sum += kl_divergence(ref.data.data() + r * V, got.data() + (ref.first_pos + r) * V, V);
        worst = std::max(worst, d);
        ++rows;
        INFO(f.dir << " sequence " << seq.name << " position " << ref.first_pos + r);
        CHECK(d <= 0.03);
      }
    }
    std::printf("cuda %s prefill vs reference: worst max-abs %.3g, mean KL %.3g over %d rows\n", f.dir, worst,
                kl_sum / rows, rows);
    CHECK(rows > 0);
    CHECK(kl_sum / rows <= 1e-5);
  }
}

TEST_CASE("int4 on cuda: token-by-token logits match the reference and the CPU backend (float32)", "[cuda][int4]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  for (auto& f : kFixtures) {
    auto g = load_tiny_fixture(f.dir, "cuda");
    auto c = load_tiny_fixture(f.dir, "cpu");
    const int64_t V = g->config().vocab_size;
    double worst_ref = 0, worst_cpu = 0;
    for (auto& seq : reference_sequences()) {
      if (seq.name != "rand32" && seq.name != "text_zh" && seq.name != "rand200") continue;
      const RefLogits ref = reference_logits(f.dir, seq.name);
      REQUIRE(ref.first_pos + ref.rows == int64_t(seq.ids.size()));
      // Every position, float32 math: the CPU backend's prefill (its FP32 GEMM path) of the whole sequence.
      std::vector<float> all;
      {
        Sequence s = c->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
        c->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::All, all);
      }
      // The GEMV path: FP32 activations on both devices, README column "float32": max abs <= 1e-4.
      Sequence sg = g->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
      Sequence sc = c->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
      std::vector<float> lg, lc;
      double wg = 0, wc = 0, wgc = 0;
      int64_t at_g = 0, at_c = 0;
      for (size_t i = 0; i < seq.ids.size(); ++i) {
        g->model().forward(sg, &seq.ids[i], 1, LogitsMode::Last, lg);
        c->model().forward(sc, &seq.ids[i], 1, LogitsMode::Last, lc);
        const double dg = max_abs_diff(lg.data(), all.data() + int64_t(i) * V, V);
        const double dc = max_abs_diff(lc.data(), all.data() + int64_t(i) * V, V);
        if (dg > wg) wg = dg, at_g = int64_t(i);
        if (dc > wc) wc = dc, at_c = int64_t(i);
        wgc = std::max(wgc, max_abs_diff(lg.data(), lc.data(), V));
        const int64_t r = int64_t(i) - ref.first_pos;
        if (r >= 0 && r < ref.rows) worst_ref = std::max(worst_ref, max_abs_diff(lg.data(), ref.data.data() + r * V, V));
      }
      std::printf("cuda %s %s token by token vs cpu prefill: cuda %.3g (position %lld), cpu decode %.3g (position %lld); "
                  "cuda vs cpu decode %.3g\n",
                  f.dir, seq.name.c_str(), wg, (long long)at_g, wc, (long long)at_c, wgc);
      worst_cpu = std::max(worst_cpu, wg);
    }
    std::printf("cuda %s decode: worst max-abs vs reference %.3g, vs cpu prefill (every position) %.3g\n", f.dir,
                worst_ref, worst_cpu);
    INFO(f.dir);
    CHECK(worst_ref <= 1e-4);
    CHECK(worst_cpu <= 1e-4);
  }
}

TEST_CASE("int4 on cuda: greedy continuations equal the reference and the CPU backend", "[cuda][int4]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/reference/greedy.json")) return;
  for (auto& f : kFixtures) {
    auto g = load_tiny_fixture(f.dir, "cuda");
    auto c = load_tiny_fixture(f.dir, "cpu");
    const int64_t V = g->config().vocab_size;
    for (auto& seq : reference_sequences()) {
      if (seq.name != "text_en" && seq.name != "text_zh") continue;
      const std::vector<int32_t> want = reference_greedy(f.dir, seq.name);
      // The prompt token by token (the FP32 GEMV path on both devices): the model has near-ties, and the
      // FP16 GEMM path may break one the other way (the fixture README: top-1 is no pass criterion there).
      auto run = [&](Engine& e) {
        Sequence s = e.model().new_sequence(int64_t(seq.ids.size() + want.size()), KvType::F32);
        std::vector<float> logits;
        for (size_t i = 0; i < seq.ids.size(); ++i) e.model().forward(s, &seq.ids[i], 1, LogitsMode::Last, logits);
        std::vector<int32_t> out;
        for (size_t i = 0; i < want.size(); ++i) {
          int32_t t = argmax(logits.data(), V);
          out.push_back(t);
          e.model().forward(s, &t, 1, LogitsMode::Last, logits);
        }
        return out;
      };
      const auto got_g = run(*g), got_c = run(*c);
      INFO(f.dir << " prompt " << seq.name);
      CHECK(got_g == got_c);
      CHECK(got_g == want);
    }
  }
}

TEST_CASE("int4 on cuda: decode replayed through CUDA graphs equals direct launches", "[cuda][int4]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/gptq-actorder/model.safetensors")) return;
  auto g = load_tiny_fixture("gptq-actorder", "cuda");
  const std::vector<int32_t> ids = {11, 400, 7, 8191, 23, 5, 99, 1000, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14};
  auto run = [&](bool graphs) {
    cuda::set_graphs_enabled(graphs);
    Sequence s = g->model().new_sequence(int64_t(ids.size()), KvType::F16);
    std::vector<float> logits, all;
    g->model().forward(s, ids.data(), 4, LogitsMode::Last, logits);
    for (size_t i = 4; i < ids.size(); ++i) {
      g->model().forward(s, &ids[i], 1, LogitsMode::Last, logits);
      all.insert(all.end(), logits.begin(), logits.end());
    }
    return all;
  };
  const auto direct = run(false);
  const auto before = cuda::graph_stats();
  const auto graphed = run(true);
  const auto after = cuda::graph_stats();
  cuda::set_graphs_enabled(true);
  CHECK(after.graph_launches - before.graph_launches >= ids.size() - 4 - 2);
  REQUIRE(graphed.size() == direct.size());
  CHECK(max_abs_diff(graphed.data(), direct.data(), int64_t(direct.size())) == 0.0);
}

TEST_CASE("int4 on cuda keeps only packed weights on the device", "[cuda][int4]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  for (auto& f : kFixtures) {
    auto e = load_tiny_fixture(f.dir, "cuda");
    const auto& L = e->model().weights().layers[0];
    // q_proj [256, 256], group 128: 256·256/2 code bytes + 256 rows · 2 groups · (F16 scale + F16 zero)
    // (+ 256·4 for the act-order permutation).
    const uint64_t want = 256 * 256 / 2 + 256 * 2 * 4 + (std::string(f.dir) == "gptq-actorder" ? 256 * 4 : 0);
    INFO(f.dir);
    CHECK(L.q->weight_bytes() == want);
    CHECK(L.q->int4_packed() == nullptr);  // a device Linear: nothing of it on the host
  }
}
#endif  // QBENCH_HAVE_CUDA
