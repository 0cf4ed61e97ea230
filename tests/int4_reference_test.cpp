// The gptq-int4 and awq-int4 backends against the fixture's float32 reference
// logits (transformers on the exactly dequantized weights) for
// ../shared/fixtures/tiny-qwen2/{gptq,gptq-actorder,awq}. Two kernel sets, each
// held to the README bound of its arithmetic: the float32 kernels
// (QBENCH_INT4_VNNI=0) to "computing in float32", max |logit diff| <= 1e-4; the
// default decode kernel on AVX-512 VNNI machines, which rounds activations to
// int16 per 128 inputs (engines/cpu/int4_vnni.h), to "reduced-precision
// activations", max |diff| <= 0.03 and mean KL <= 1e-5. Greedy continuations equal.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <limits>

#include "engines/model/sampler.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

struct Int4Fixture {
  const char* dir;      // under tiny-qwen2/, also the reference format name
  const char* backend;  // what detection must say
};
const Int4Fixture kFixtures[] = {{"gptq", "gptq-int4"}, {"gptq-actorder", "gptq-int4"}, {"awq", "awq-int4"}};

// One kernel set: the QBENCH_INT4_VNNI value it is selected by and the bounds it is held to.
struct KernelMode {
  const char* name;
  const char* vnni_env;
  double max_abs, mean_kl;
};
const KernelMode kModes[] = {{"float32 kernels", "0", 1e-4, std::numeric_limits<double>::infinity()},
                             {"default kernels (int16 activations on VNNI machines)", "1", 0.03, 1e-5}};

// Selects the kernel set for Linears built while it lives (the choice is made at load).
struct ModeScope {
  explicit ModeScope(const KernelMode& m) { setenv("QBENCH_INT4_VNNI", m.vnni_env, 1); }
  ~ModeScope() { unsetenv("QBENCH_INT4_VNNI"); }
};

std::unique_ptr<Engine> load(const std::string& dir, int64_t max_chunk = 512) {
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/" + dir;
  lo.max_chunk = max_chunk;
  return load_engine(lo);
}

}  // namespace

TEST_CASE("gptq-int4 and awq-int4 are detected for their fixtures", "[int4][gptq][awq][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/awq/model.safetensors")) return;
  for (auto& f : kFixtures) {
    INFO(f.dir);
    CHECK(detect_backend(tiny_fixture_dir() + "/" + f.dir) == f.backend);
  }
  CHECK(detect_backend(tiny_fixture_dir() + "/hf-fp16") == "fp16");
}

TEST_CASE("int4 logits match the float32 reference (prefill, GEMM path)", "[int4][gptq][awq][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  for (const KernelMode& mode : kModes)
  for (auto& f : kFixtures) {
    ModeScope scope(mode);
    auto e = load(f.dir);
    const int64_t V = e->config().vocab_size;
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
        INFO(mode.name << ": " << f.dir << " sequence " << seq.name << " position " << ref.first_pos + r);
        CHECK(d <= mode.max_abs);
      }
    }
    WARN(mode.name << ", " << f.dir << ": worst max-abs logit diff " << worst << ", mean KL " << kl_sum / rows << " over "
                   << rows << " rows");
    CHECK(kl_sum / rows <= mode.mean_kl);
    CHECK(rows == 6);
  }
}

TEST_CASE("int4 logits match the reference token by token (GEMV path) and in chunks", "[int4][gptq][awq][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  for (const KernelMode& mode : kModes)
  for (auto& f : kFixtures) {
    ModeScope scope(mode);
    auto e = load(f.dir);
    auto chunked = load(f.dir, 48);
    const int64_t V = e->config().vocab_size;
    for (auto& seq : reference_sequences()) {
      if (seq.name != "rand32" && seq.name != "text_zh" && seq.name != "rand200") continue;
      const RefLogits ref = reference_logits(f.dir, seq.name);
      REQUIRE(ref.first_pos + ref.rows == int64_t(seq.ids.size()));
      std::vector<float> got;
      if (seq.name == "rand200") {  // 5 prefill chunks of 48 (4 GEMM, the last 8 tokens too)
        Sequence s = chunked->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
        chunked->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::Last, got);
      } else {
        Sequence s = e->model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
        for (size_t i = 0; i < seq.ids.size(); ++i) e->model().forward(s, &seq.ids[i], 1, LogitsMode::Last, got);
      }
      const double d = max_abs_diff(got.data(), ref.data.data() + (ref.rows - 1) * V, V);
      INFO(mode.name << ": " << f.dir << " " << seq.name << ": max-abs diff at the last position " << d);
      CHECK(d <= mode.max_abs);
      if (d > 1e-4) WARN(mode.name << ", " << f.dir << " " << seq.name << ": last-position max-abs diff " << d);
    }
  }
}

TEST_CASE("int4 greedy continuations equal the reference", "[int4][gptq][awq][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/greedy.json")) return;
  for (const KernelMode& mode : kModes)
  for (auto& f : kFixtures) {
    ModeScope scope(mode);
    auto e = load(f.dir);
    for (auto& seq : reference_sequences()) {
      if (seq.name != "text_en" && seq.name != "text_zh") continue;
      const std::vector<int32_t> want = reference_greedy(f.dir, seq.name);
      Sequence s = e->model().new_sequence(int64_t(seq.ids.size() + want.size()), KvType::F32);
      std::vector<float> logits;
      e->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::Last, logits);
      std::vector<int32_t> got;
      for (size_t i = 0; i < want.size(); ++i) {
        int32_t t = argmax(logits.data(), e->config().vocab_size);
        got.push_back(t);
        e->model().forward(s, &t, 1, LogitsMode::Last, logits);
      }
      INFO(mode.name << ": " << f.dir << " prompt " << seq.name);
      CHECK(got == want);
    }
  }
}

TEST_CASE("int4 backends keep only packed weights in memory", "[int4][gptq][awq][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  for (auto& f : kFixtures) {
    auto e = load(f.dir);
    const auto& L = e->model().weights().layers[0];
    // q_proj [256, 256]: 256·256/2 code bytes + 256 rows · 2 groups · 8 bytes (+ 256·4 for act-order).
    const uint64_t want = 256 * 256 / 2 + 256 * 2 * 8 + (std::string(f.dir) == "gptq-actorder" ? 256 * 4 : 0);
    INFO(f.dir);
    CHECK(L.q->weight_bytes() == want);
    CHECK(L.q->kind() == (std::string(f.backend) == "awq-int4" ? "awq-int4-g128" : "gptq-int4-g128"));
  }
}
