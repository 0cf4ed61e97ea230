// The FP16 backend against transformers' float32 reference logits for
// ../shared/fixtures/tiny-qwen2/hf-fp16 (tolerances from the fixture README).
#include <catch2/catch.hpp>

#include "engines/model/sampler.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

std::unique_ptr<Engine> load_tiny_fp16() {
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  return load_engine(lo);
}

// Logits of every position of ids, in one prefill.
std::vector<float> prefill_all(Engine& e, const std::vector<int32_t>& ids, KvType kv) {
  Sequence s = e.model().new_sequence(int64_t(ids.size()), kv);
  std::vector<float> logits;
  e.model().forward(s, ids.data(), int64_t(ids.size()), LogitsMode::All, logits);
  return logits;
}

}  // namespace

TEST_CASE("fp16 backend is detected for the hf-fp16 fixture", "[reference][fp16]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  CHECK(detect_backend(tiny_fixture_dir() + "/hf-fp16") == "fp16");
}

TEST_CASE("fp16 logits match transformers float32 reference", "[reference][fp16]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  auto e = load_tiny_fp16();
  const int64_t V = e->config().vocab_size;
  REQUIRE(V == 8448);
  // F32 KV cache: float32 math throughout, README bound max |diff| <= 1e-4.
  // F16 KV cache: fp16 activations in the cache, README bound max |diff| <= 0.03 and mean KL <= 1e-5.
  for (KvType kv : {KvType::F32, KvType::F16}) {
    const double bound = kv == KvType::F32 ? 1e-4 : 0.03;
    double worst = 0, kl_sum = 0;
    int64_t rows_checked = 0;
    for (auto& seq : reference_sequences()) {
      const RefLogits ref = reference_logits("hf-fp16", seq.name);
      const std::vector<float> got = prefill_all(*e, seq.ids, kv);
      for (int64_t r = 0; r < ref.rows; ++r) {
        const float* g = got.data() + (ref.first_pos + r) * V;
        const float* w = ref.data.data() + r * V;
        const double d = max_abs_diff(g, w, V);
        worst = std::max(worst, d);
        kl_sum += kl_divergence(w, g, V);
        ++rows_checked;
        INFO("kv " << kv_type_name(kv) << " sequence " << seq.name << " position " << ref.first_pos + r);
        CHECK(d <= bound);
      }
    }
    const double mean_kl = kl_sum / double(rows_checked);
    INFO("kv " << kv_type_name(kv) << ": worst max-abs " << worst << ", mean KL " << mean_kl << " over " << rows_checked << " rows");
    CHECK(rows_checked == 104);
    CHECK(mean_kl <= 1e-5);
  }
}

TEST_CASE("fp16 greedy continuations equal the transformers reference", "[reference][fp16]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/greedy.json")) return;
  auto e = load_tiny_fp16();
  for (auto& seq : reference_sequences()) {
    if (seq.name != "text_en" && seq.name != "text_zh") continue;
    const std::vector<int32_t> want = reference_greedy("hf-fp16", seq.name);
    Sequence s = e->model().new_sequence(int64_t(seq.ids.size() + want.size()), KvType::F32);
    std::vector<float> logits;
    e->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::Last, logits);
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      int32_t t = argmax(logits.data(), e->config().vocab_size);
      got.push_back(t);
      e->model().forward(s, &t, 1, LogitsMode::Last, logits);
    }
    INFO("prompt " << seq.name);
    CHECK(got == want);
  }
}

TEST_CASE("prefill logits equal token-by-token decode logits", "[reference][fp16]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  auto e = load_tiny_fp16();
  const int64_t V = e->config().vocab_size;
  for (auto& seq : reference_sequences()) {
    if (seq.name != "rand32" && seq.name != "text_zh") continue;
    const std::vector<float> all = prefill_all(*e, seq.ids, KvType::F32);
    Sequence s = e->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
    std::vector<float> one;
    double worst = 0;
    for (size_t i = 0; i < seq.ids.size(); ++i) {
      e->model().forward(s, &seq.ids[i], 1, LogitsMode::Last, one);
      worst = std::max(worst, max_abs_diff(one.data(), all.data() + i * V, V));
    }
    INFO(seq.name << ": worst max-abs difference " << worst);
    // GEMM and GEMV sum in different orders; float32 rounding alone stays far below 1e-4.
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("chunked prefill equals one-shot prefill", "[reference][fp16]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  lo.max_chunk = 48;  // rand200 runs as 5 chunks
  auto chunked = load_engine(lo);
  auto whole = load_tiny_fp16();
  for (auto& seq : reference_sequences()) {
    if (seq.name != "rand200") continue;
    const auto a = prefill_all(*chunked, seq.ids, KvType::F32);
    const auto b = prefill_all(*whole, seq.ids, KvType::F32);
    CHECK(max_abs_diff(a.data(), b.data(), int64_t(a.size())) <= 1e-4);
  }
}
