// The launch folds of batched CUDA steps (engines/cuda/fold_control.h): a producer writing the 16-bit
// copy its consumer GEMM reads, the residual add joined to the RMSNorm after it, the q/k/v bias adds in one
// launch, the batched K/V store in the RoPE launch, the merged q/k/v GEMM's epilogue pass in the RoPE launch,
// and producers skipping the FP32 output only that copy is read from. They only move work between launches, so results must be bit-identical with them off, and each
// must happen where the transformer gives it the chance (counted launches). And dense q/k/v as one GEMM,
// which may round differently: held to a tolerance.
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engines/cuda/fold_control.h"
#include "engines/cuda/launch_queue.h"
#include "tests/support/cuda_test_support.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

struct Run {
  std::vector<float> prefill;  // a 200-row prefill's every row
  std::vector<float> step;     // one decode step of 20 sequences, then one of 70
  uint64_t prefill_launches = 0, step_launches[2] = {0, 0};
  uint64_t prefill_skipped = 0, step_skipped[2] = {0, 0};  // producers that wrote only the 16-bit copy
  uint64_t step_epilogues[2] = {0, 0};                       // q/k/v GEMM epilogues the RoPE launch took
};

// All take the cuBLAS path of every format (8 rows or more), where the folds apply; the steps also merge
// dense q/k/v into one GEMM (up to 128 rows). With 130 tokens of context each, the attention of the
// 20-sequence step splits every row (its combine pass writes all of the output, and with it the o
// projection's FP16 copy); that of the 70-sequence step splits none (on an F16 cache the tensor-core
// decode kernel writes all of the output and the copy).
Run run(Engine& e, KvType kv) {
  Transformer& m = e.model();
  const std::vector<int32_t> ids = reference_ids("rand200");
  Run r;
  {
    Sequence s = m.new_sequence(int64_t(ids.size()), kv);
    const uint64_t before = cuda::graph_stats().launches, skipped = cuda::f32_writes_skipped();
    m.forward(s, ids.data(), int64_t(ids.size()), LogitsMode::All, r.prefill);
    r.prefill_launches = cuda::graph_stats().launches - before;
    r.prefill_skipped = cuda::f32_writes_skipped() - skipped;
  }
  const int counts[2] = {20, 70};
  for (int c = 0; c < 2; ++c) {
    const int ns = counts[c];
    auto pool = m.new_kv_pool(ns * 160, kv);
    std::vector<Sequence> seqs;
    std::vector<float> logits;
    for (int i = 0; i < ns; ++i) {
      seqs.push_back(m.new_sequence_in(pool));
      m.forward(seqs.back(), ids.data() + i % 64, 130, LogitsMode::None, logits);
    }
    std::vector<int32_t> tok(static_cast<size_t>(ns));
    std::vector<Transformer::BatchItem> items;
    for (int i = 0; i < ns; ++i) {
      tok[size_t(i)] = ids[size_t(100 + i)];
      items.push_back({&seqs[size_t(i)], &tok[size_t(i)], 1, true});
    }
    const uint64_t before = cuda::graph_stats().launches, skipped = cuda::f32_writes_skipped(),
                   epilogues = cuda::gemm_epilogues_folded();
    m.forward_batch(items, logits);
    r.step_launches[c] = cuda::graph_stats().launches - before;
    r.step_skipped[c] = cuda::f32_writes_skipped() - skipped;
    r.step_epilogues[c] = cuda::gemm_epilogues_folded() - epilogues;
    r.step.insert(r.step.end(), logits.begin(), logits.end());
  }
  return r;
}

// A 40-token prompt from ids, then `steps` decode steps fed from ids: every step's logits, and in `launches` the
// kernels the last step ran (cancelled launches not counted). Capacity 200 splits every step's attention (its
// combine pass writes all of the output, and with it o's form).
std::vector<float> decode_from_ids(Transformer& m, const std::vector<int32_t>& ids, int steps, uint64_t& launches) {
  Sequence s = m.new_sequence(200, KvType::F16);
  std::vector<float> logits, all;
  m.forward(s, ids.data(), 40, LogitsMode::Last, logits);
  for (int i = 0; i < steps; ++i) {
    const uint64_t before = cuda::graph_stats().launched();
    m.forward(s, ids.data() + 40 + i, 1, LogitsMode::Last, logits);
    launches = cuda::graph_stats().launched() - before;
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

// decode_from_ids with a fold switched off, then on (after a warm-up with it on: scratch buffers grow on first
// use), and the last step's launches of each.
struct OffOn {
  std::vector<float> off, on;
  uint64_t launches_off = 0, launches_on = 0;
};
OffOn decode_off_on(Transformer& m, const std::vector<int32_t>& ids, int steps, void (*set)(bool)) {
  OffOn r;
  (void)decode_from_ids(m, ids, steps, r.launches_on);
  set(false);
  r.off = decode_from_ids(m, ids, steps, r.launches_off);
  set(true);
  r.on = decode_from_ids(m, ids, steps, r.launches_on);
  return r;
}

}  // namespace

TEST_CASE("cuda launch folds: bit-identical logits, fewer launches", "[cuda][folds]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  const bool was = cuda::launch_folds_enabled();
  // FP16 safetensors (dense cuBLAS), GGUF Q8_0 (dequantise + cuBLAS), GPTQ without act-order (same, over
  // the plain FP16 copy).
  for (const std::string dir : {"hf-fp16", "gguf/tiny-qwen2-q8_0.gguf", "gptq"}) {
    auto e = load_tiny_fixture(dir, "cuda");
    const int64_t layers = e->config().num_layers;
    for (KvType kv : {KvType::F32, KvType::F16}) {
      INFO(dir << ", kv " << kv_type_name(kv));
      // Warm-up: scratch buffers grow on first use, and growing one runs the queue, which keeps that pass's
      // q/k/v from merging (4 more launches when this case ran first in its process, under memcheck).
      (void)run(*e, kv);
      cuda::set_launch_folds_enabled(false);
      const Run off = run(*e, kv);
      cuda::set_launch_folds_enabled(true);
      const Run on = run(*e, kv);
      REQUIRE(on.prefill.size() == off.prefill.size());
      REQUIRE(on.step.size() == off.step.size());
      const double dp = max_abs_diff(on.prefill.data(), off.prefill.data(), int64_t(off.prefill.size()));
      const double ds = max_abs_diff(on.step.data(), off.step.data(), int64_t(off.step.size()));
      std::printf("cuda folds %s kv %s: max-abs on vs off: prefill %.3g, steps %.3g; launches: prefill %llu -> %llu, "
                  "20-sequence step %llu -> %llu, 70-sequence step %llu -> %llu\n",
                  dir.c_str(), kv_type_name(kv), dp, ds, (unsigned long long)off.prefill_launches,
                  (unsigned long long)on.prefill_launches, (unsigned long long)off.step_launches[0],
                  (unsigned long long)on.step_launches[0], (unsigned long long)off.step_launches[1],
                  (unsigned long long)on.step_launches[1]);
      CHECK(dp == 0.0);
      CHECK(ds == 0.0);
      // Prefill, per layer: the copies for q/k/v, gate/up and down (3 conversions), k's and v's bias adds
      // (into q's), and both residual adds (into the next RMSNorm: the FFN's, then the next layer's or the
      // final one); plus the final RMSNorm writing the LM head's copy. o's input (a lone sequence's
      // attention output) is still converted.
      CHECK(off.prefill_launches - on.prefill_launches == uint64_t(7 * layers + 1));
      // The steps: the same, but the biases have no launches to save where q/k/v are one GEMM (dense: the
      // GEMM's epilogue adds them either way); the batched K/V store joins the RoPE launch, and the
      // attention writes o's copy (no conversion left) where one pass writes all of its output.
      const uint64_t bias_saved = dir == "hf-fp16" ? 0 : 2;
      CHECK(off.step_launches[0] - on.step_launches[0] == uint64_t((7 + bias_saved) * layers + 1));
      const uint64_t o_copy = kv == KvType::F16 ? 1 : 0;
      CHECK(off.step_launches[1] - on.step_launches[1] == uint64_t((6 + o_copy + bias_saved) * layers + 1));
      // FP32 outputs nobody reads (Ops::release): per layer the two RMSNorms and SiLU·mul write only the copy
      // their dense GEMMs read, and the bit-identical logits above show nothing read what they skipped. The
      // GGUF and int4 GEMMs queue a dequantisation per tile, which release_f32 does not tell from a reader of
      // x: they keep writing it. With the folds off nothing is skipped.
      const uint64_t skip = dir == "hf-fp16" ? uint64_t(3 * layers) : 0;
      CHECK(on.prefill_skipped == skip);
      CHECK(on.step_skipped[0] == skip);
      CHECK(on.step_skipped[1] == skip);
      CHECK(off.prefill_skipped + off.step_skipped[0] + off.step_skipped[1] == 0);
      // The merged dense q/k/v GEMM of a step (up to 128 rows): its epilogue pass (biases, q/k/v written
      // apart) runs in the RoPE launch, a kernel fewer per layer inside the same queued launches (so not in
      // the launch counts above). GGUF and int4 GEMMs are not merged: nothing to take.
      const uint64_t epi = dir == "hf-fp16" ? uint64_t(layers) : 0;
      CHECK(on.step_epilogues[0] == epi);
      CHECK(on.step_epilogues[1] == epi);
      CHECK(off.step_epilogues[0] + off.step_epilogues[1] == 0);
    }
  }
  cuda::set_launch_folds_enabled(was);
}

TEST_CASE("cuda q/k/v as one GEMM: same logits within rounding, fewer launches", "[cuda][folds]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  const bool was = cuda::gemm_merge_enabled();
  auto e = load_tiny_fixture("hf-fp16", "cuda");
  const int64_t layers = e->config().num_layers;
  for (KvType kv : {KvType::F32, KvType::F16}) {
    INFO("kv " << kv_type_name(kv));
    (void)run(*e, kv);  // warm-up, as above
    cuda::set_gemm_merge_enabled(false);
    const Run off = run(*e, kv);
    cuda::set_gemm_merge_enabled(true);
    const Run on = run(*e, kv);
    REQUIRE(on.step.size() == off.step.size());
    const double dp = max_abs_diff(on.prefill.data(), off.prefill.data(), int64_t(off.prefill.size()));
    const double ds = max_abs_diff(on.step.data(), off.step.data(), int64_t(off.step.size()));
    std::printf("cuda q/k/v merged kv %s: max-abs on vs off: prefill %.3g, steps %.3g; step launches %llu -> %llu\n",
                kv_type_name(kv), dp, ds, (unsigned long long)off.step_launches[0], (unsigned long long)on.step_launches[0]);
    CHECK(dp == 0.0);  // 200 rows: beyond the merge's 128, the same launches
    // One GEMM over all rows may sum in another order than three (cuBLAS picks per shape): FP32 rounding,
    // ~1e-6 of a logit; with an F16 cache that can move one stored value by an f16 ulp (seen as 4.6e-4
    // in cuda_reference_test.cpp's batched test). A wrong segment or bias is off by far more.
    CHECK(ds <= (kv == KvType::F32 ? 1e-4 : 2e-3));
    // Per layer: k's and v's GEMMs join q's, and the bias adds fold into its epilogue (one launch for
    // four before).
    CHECK(off.step_launches[0] - on.step_launches[0] == uint64_t(3 * layers));
    CHECK(off.step_launches[1] - on.step_launches[1] == uint64_t(3 * layers));
  }
  cuda::set_gemm_merge_enabled(was);
}

// Batch-1 decode on the GEMV paths: RMSNorm, SiLU·mul and the attention's combine pass write the int4 GEMV's
// activation fragments or the GGUF GEMV's int8 runs themselves (half_copy.h fold_int4_fragments /
// fold_gguf_runs). Same values as the packing launches they replace: bit-identical logits.
TEST_CASE("cuda batch-1 decode: activation forms folded into their producers, bit-identical, fewer launches",
          "[cuda][folds]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  const bool was = cuda::form_folds_enabled(), norms_were = cuda::norm_folds_enabled(),
             silus_were = cuda::silu_folds_enabled();
  cuda::set_norm_folds_enabled(false);  // not bit-identical: the next test
  cuda::set_silu_folds_enabled(false);  // counted by its own test below
  const std::vector<int32_t> ids = reference_ids("rand200");
  for (const std::string dir : {"gptq", "awq", "gptq-actorder", "gguf/tiny-qwen2-q4_k_m.gguf", "gguf/tiny-qwen2-q8_0.gguf"}) {
    auto e = load_tiny_fixture(dir, "cuda");
    Transformer& m = e->model();
    const int64_t layers = e->config().num_layers;
    const OffOn r = decode_off_on(m, ids, 3, cuda::set_form_folds_enabled);
    const auto &off = r.off, &on = r.on;
    const uint64_t l_off = r.launches_off, l_on = r.launches_on;
    INFO(dir);
    REQUIRE(on.size() == off.size());
    const double d = max_abs_diff(on.data(), off.data(), int64_t(on.size()));
    std::printf("cuda form folds %s: max-abs on vs off %.3g; step launches %llu -> %llu\n", dir.c_str(), d,
                (unsigned long long)l_off, (unsigned long long)l_on);
    CHECK(d == 0.0);
    // Per layer the inputs of q/k/v, o, gate/up and down; act-order permutes every input (packing stays);
    // GGUF also the LM head's input when the LM head is a GGUF matrix.
    if (dir == "gptq-actorder") CHECK(l_off == l_on);
    else if (dir.rfind("gguf", 0) == 0) CHECK((l_off - l_on == uint64_t(4 * layers) || l_off - l_on == uint64_t(4 * layers + 1)));
    else CHECK(l_off - l_on == uint64_t(4 * layers));
  }
  cuda::set_form_folds_enabled(was);
  cuda::set_norm_folds_enabled(norms_were);
  cuda::set_silu_folds_enabled(silus_were);
}

// Batch-1 decode, int4: the one-row RMSNorm between the GEMV whose epilogue adds into the residual (o, down)
// and the GEMVs reading its fragments (gate/up, the next layer's q/k/v) runs inside them
// (linear_int4_cuda.h fold_rmsnorm_into_int4): fragments of x·w, sums scaled by 1/sqrt(mean(x²) + eps).
// Other rounding than the RMSNorm launch's (x·w·r rounded to the FP16 hi/lo pair before the products, not
// x·w): held to a tolerance, and to the reference logits by the [int4] tests, which run with it.
TEST_CASE("cuda batch-1 decode: RMSNorm folded into the int4 GEMVs around it, within rounding, fewer launches",
          "[cuda][folds]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  const bool was = cuda::norm_folds_enabled();
  const std::vector<int32_t> ids = reference_ids("rand200");
  for (const std::string dir : {"gptq", "awq", "gptq-actorder", "gguf/tiny-qwen2-q4_k_m.gguf"}) {
    auto e = load_tiny_fixture(dir, "cuda");
    Transformer& m = e->model();
    const int64_t layers = e->config().num_layers;
    auto decode = [&](uint64_t& launches, std::vector<int32_t>& greedy) {
      Sequence s = m.new_sequence(200, KvType::F16);
      std::vector<float> logits, all;
      m.forward(s, ids.data(), 40, LogitsMode::Last, logits);
      greedy.clear();
      for (int i = 0; i < 8; ++i) {
        const int32_t tok = i < 3 ? ids[size_t(40 + i)] : greedy.back();
        const uint64_t before = cuda::graph_stats().launched();
        m.forward(s, &tok, 1, LogitsMode::Last, logits);
        launches = cuda::graph_stats().launched() - before;
        all.insert(all.end(), logits.begin(), logits.end());
        greedy.push_back(int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()));
      }
      return all;
    };
    uint64_t l_off = 0, l_on = 0;
    std::vector<int32_t> g_off, g_on;
    (void)decode(l_on, g_on);  // warm-up: scratch buffers grow on first use
    cuda::set_norm_folds_enabled(false);
    const auto off = decode(l_off, g_off);
    cuda::set_norm_folds_enabled(true);
    const auto on = decode(l_on, g_on);
    INFO(dir);
    REQUIRE(on.size() == off.size());
    double scale = 0;
    for (float v : off) scale = std::max(scale, double(std::fabs(v)));
    const double d = max_abs_diff(on.data(), off.data(), int64_t(on.size()));
    std::printf("cuda RMSNorm fold %s: max-abs on vs off %.3g (max |logit| %.3g); step launches %llu -> %llu\n",
                dir.c_str(), d, scale, (unsigned long long)l_off, (unsigned long long)l_on);
    CHECK(d <= 1e-5 * std::max(1.0, scale));
    CHECK(g_on == g_off);
    // Per step: every layer's MLP RMSNorm and the attention RMSNorm of every layer but the first (its input
    // is the embedding gather); act-order GEMVs pack their input themselves and GGUF has no such fold.
    if (dir == "gptq" || dir == "awq") CHECK(l_off - l_on == uint64_t(2 * layers - 1));
    else CHECK(l_off == l_on);
  }
  cuda::set_norm_folds_enabled(was);
}

// Decode, int4: SiLU·mul runs inside the gate/up GEMV before it (linear_int4_cuda.h fold_silu_into_int4): the
// GEMV's blocks pair gate's and up's row blocks and write the down GEMV's fragments of silu(gate) · up with the
// SiLU·mul kernel's arithmetic, so the logits are bit-identical and each layer has one launch fewer. Act-order
// GEMVs pack their own input, and GGUF has no such fold: unchanged there.
TEST_CASE("cuda decode: SiLU·mul folded into the int4 gate/up GEMV, bit-identical, one launch fewer per layer",
          "[cuda][folds]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  const bool was = cuda::silu_folds_enabled(), norms_were = cuda::norm_folds_enabled();
  const std::vector<int32_t> ids = reference_ids("rand200");
  for (const std::string dir : {"gptq", "awq", "gptq-actorder", "gguf/tiny-qwen2-q8_0.gguf"}) {
    auto e = load_tiny_fixture(dir, "cuda");
    Transformer& m = e->model();
    const int64_t layers = e->config().num_layers;
    for (bool norms : {true, false}) {  // gate/up reading a folded RMSNorm's scale, or not
      cuda::set_norm_folds_enabled(norms);
      const OffOn r = decode_off_on(m, ids, 4, cuda::set_silu_folds_enabled);
      const auto &off = r.off, &on = r.on;
      const uint64_t l_off = r.launches_off, l_on = r.launches_on;
      INFO(dir << ", RMSNorm fold " << norms);
      REQUIRE(on.size() == off.size());
      const double d = max_abs_diff(on.data(), off.data(), int64_t(on.size()));
      std::printf("cuda SiLU fold %s (norm fold %d): max-abs on vs off %.3g; step launches %llu -> %llu\n",
                  dir.c_str(), int(norms), d, (unsigned long long)l_off, (unsigned long long)l_on);
      CHECK(d == 0.0);
      if (dir == "gptq" || dir == "awq") CHECK(l_off - l_on == uint64_t(layers));
      else CHECK(l_off == l_on);
    }
  }
  cuda::set_norm_folds_enabled(norms_were);
  cuda::set_silu_folds_enabled(was);
}

// Decode attention split alike on every row (F16 cache, sm_90): the splits of a row and KV head run as one
// thread-block cluster and merge through each other's shared memory (attention_flash_cuda.h
// FlashArgs::cluster) with the combine pass's operations in its order: bit-identical logits, the combine
// launch gone from every layer, and the o projection's input form (FP16 copy, int4 fragments, GGUF int8 runs)
// written by the merge. Batch 1 (capacity 200: 4 splits) and a batched step of 20 sequences (4 splits each).
TEST_CASE("cuda decode: attention splits merged in a thread-block cluster, bit-identical, one launch fewer per layer",
          "[cuda][folds]") {
  if (!require_cuda() || !require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  const bool was = cuda::cluster_merge_enabled();
  int dev = 0, major = 0;
  REQUIRE(cudaGetDevice(&dev) == cudaSuccess);
  REQUIRE(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess);
  const std::vector<int32_t> ids = reference_ids("rand200");
  for (const std::string dir : {"gptq", "awq", "gguf/tiny-qwen2-q4_k_m.gguf", "gguf/tiny-qwen2-q8_0.gguf", "hf-fp16"}) {
    auto e = load_tiny_fixture(dir, "cuda");
    Transformer& m = e->model();
    const int64_t layers = e->config().num_layers;
    uint64_t launches = 0;
    (void)decode_from_ids(m, ids, 3, launches);  // warm-up with the merge on
    cuda::set_cluster_merge_enabled(false);
    const unsigned long long m0 = cuda::cluster_merges();
    const std::vector<float> off = decode_from_ids(m, ids, 3, launches);
    const unsigned long long m1 = cuda::cluster_merges();
    cuda::set_cluster_merge_enabled(true);
    const std::vector<float> on = decode_from_ids(m, ids, 3, launches);
    const unsigned long long m2 = cuda::cluster_merges();
    INFO(dir);
    REQUIRE(on.size() == off.size());
    const double d = max_abs_diff(on.data(), off.data(), int64_t(on.size()));
    std::printf("cuda cluster merge %s: max-abs on vs off %.3g; clustered attention passes %llu off, %llu on (sm_%d0)\n",
                dir.c_str(), d, m1 - m0, m2 - m1, major);
    CHECK(d == 0.0);
    CHECK(m1 == m0);
    // The prompt's prefill is not split; each decode step's attention is, in every layer.
    CHECK(m2 - m1 == (major >= 9 ? uint64_t(3 * layers) : 0u));
  }
  {  // a batched step: 20 sequences
    auto e = load_tiny_fixture("gptq", "cuda");
    cuda::set_cluster_merge_enabled(false);
    const Run off = run(*e, KvType::F16);
    cuda::set_cluster_merge_enabled(true);
    const unsigned long long m0 = cuda::cluster_merges();
    const Run on = run(*e, KvType::F16);
    const unsigned long long merged = cuda::cluster_merges() - m0;
    REQUIRE(on.step.size() == off.step.size());
    const double d = max_abs_diff(on.step.data(), off.step.data(), int64_t(on.step.size()));
    std::printf("cuda cluster merge, batched steps: max-abs on vs off %.3g; clustered attention passes %llu\n", d,
                merged);
    CHECK(d == 0.0);
    // At least the 20-sequence step's layers (every row split alike there).
    if (major >= 9) CHECK(merged >= uint64_t(e->config().num_layers));
  }
  cuda::set_cluster_merge_enabled(was);
}

#endif  // QBENCH_HAVE_CUDA
