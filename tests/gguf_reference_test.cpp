// GGUF backends against llama.cpp: dequantised rows vs gguf-py's, logits vs
// llama.cpp's for every reference sequence, greedy continuations equal
// (tolerances from ../shared/fixtures/tiny-qwen2/README.md).
#include <catch2/catch.hpp>

#include <cmath>

#include "engines/formats/gguf_reader.h"
#include "engines/model/sampler.h"
#include "engines/quant/dequant_ref.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

const char* kFormats[] = {"gguf-f16", "gguf-q8_0", "gguf-q5_k_s", "gguf-q4_k_m"};

std::string file_of(const std::string& format) {
  return tiny_fixture_dir() + "/gguf/tiny-qwen2-" + format.substr(5) + ".gguf";
}

}  // namespace

TEST_CASE("GGUF dequantisation equals gguf-py's rows", "[gguf][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/dequant/index.json")) return;
  for (const char* fmt : kFormats) {
    GgufFile f(file_of(fmt));
    for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.3.attn_v.weight", "blk.3.ffn_down.weight"}) {
      std::vector<int64_t> shape;
      const std::vector<float> ref = reference_dequant(fmt, name, shape);
      const GgufTensor& t = f.require_tensor(name);
      REQUIRE(shape.size() == 2);
      REQUIRE(shape[1] == t.dims[0]);
      std::vector<float> got(ref.size());
      const uint64_t rb = quant::row_bytes(t.type, t.dims[0]);
      for (int64_t r = 0; r < shape[0]; ++r) quant::dequantize_row(t.type, t.data + r * rb, got.data() + r * shape[1], shape[1]);
      double worst_rel = 0;
      for (size_t i = 0; i < ref.size(); ++i)
        worst_rel = std::max(worst_rel, std::fabs(double(got[i]) - ref[i]) / std::max(1e-30, double(std::fabs(ref[i]))));
      INFO(fmt << " " << name << " (" << quant::type_name(t.type) << "): worst relative difference " << worst_rel);
      CHECK(worst_rel <= 1e-6);
    }
  }
}

TEST_CASE("GGUF files are detected as their backends", "[gguf][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gguf/tiny-qwen2-q4_k_m.gguf")) return;
  CHECK(detect_backend(file_of("gguf-f16")) == "gguf");
  CHECK(detect_backend(file_of("gguf-q8_0")) == "gguf-q8_0");
  CHECK(detect_backend(file_of("gguf-q5_k_s")) == "gguf-q5_k_s");
  CHECK(detect_backend(file_of("gguf-q4_k_m")) == "gguf-q4_k_m");
}

TEST_CASE("GGUF logits match llama.cpp for every reference sequence", "[gguf][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  for (const char* fmt : kFormats) {
    LoadOptions lo;
    lo.path = file_of(fmt);
    auto e = load_engine(lo);
    const int64_t V = e->config().vocab_size;
    REQUIRE(V == 8448);
    // llama.cpp keeps K/V in F16 by default; so do we here.
    const double bound = std::string(fmt) == "gguf-f16" ? 0.02 : 0.3;
    double worst = 0, kl_sum = 0;
    int rows = 0;
    for (auto& seq : reference_sequences()) {
      const RefLogits ref = reference_logits(fmt, seq.name);
      Sequence s = e->model().new_sequence(int64_t(seq.ids.size()), KvType::F16);
      std::vector<float> logits;
      e->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::All, logits);
      for (int64_t r = 0; r < ref.rows; ++r) {
        const float* g = logits.data() + (ref.first_pos + r) * V;
        const double d = max_abs_diff(g, ref.data.data() + r * V, V);
        worst = std::max(worst, d);
        kl_sum += kl_divergence(ref.data.data() + r * V, g, V);
        ++rows;
        INFO(fmt << " " << seq.name << " position " << ref.first_pos + r << ": max abs " << d);
        CHECK(d <= bound);
      }
    }
    const double mean_kl = kl_sum / rows;
    INFO(fmt << ": worst max-abs " << worst << ", mean KL " << mean_kl << " over " << rows << " rows");
    std::printf("%s vs llama.cpp: worst max-abs %.4g, mean KL %.3g over %d rows\n", fmt, worst, mean_kl, rows);
    CHECK(rows == 6);
    CHECK(mean_kl <= 1e-3);
  }
}

TEST_CASE("GGUF greedy continuations equal llama.cpp's", "[gguf][reference]") {
  // This untrained model's logits are nearly flat, so two correct runtimes can part at a near-tie.
  // Required: equal up to the first difference, and there llama.cpp's token is within kTie of our best logit
  // (a real bug in a weight type moves logits by ~1, far outside). f16 and q8_0 agree on all 16 tokens; q5_k_s
  // and q4_k_m part at gaps of 0.01-0.03, which the order of float sums (scalar vs SIMD) already moves.
  constexpr float kTie = 0.05f;
  if (!require_shared("fixtures/tiny-qwen2/reference/greedy.json")) return;
  for (const char* fmt : kFormats) {
    LoadOptions lo;
    lo.path = file_of(fmt);
    auto e = load_engine(lo);
    for (auto& seq : reference_sequences()) {
      if (seq.name != "text_en" && seq.name != "text_zh") continue;
      const std::vector<int32_t> want = reference_greedy(fmt, seq.name);
      Sequence s = e->model().new_sequence(int64_t(seq.ids.size() + want.size()), KvType::F16);
      std::vector<float> logits;
      e->model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::Last, logits);
      size_t i = 0;
      for (; i < want.size(); ++i) {
        const int32_t t = argmax(logits.data(), e->config().vocab_size);
        if (t != want[i]) {
          const float gap = logits[size_t(t)] - logits[size_t(want[i])];
          INFO(fmt << " prompt " << seq.name << ": step " << i << " we pick " << t << ", llama.cpp " << want[i]
                   << ", logit gap " << gap);
          std::printf("%s %s: greedy parts from llama.cpp at step %zu (near-tie, logit gap %.4f)\n", fmt,
                      seq.name.c_str(), i, gap);
          CHECK(gap <= kTie);
          break;
        }
        int32_t next = t;
        e->model().forward(s, &next, 1, LogitsMode::Last, logits);
      }
      if (std::string(fmt) == "gguf-f16") CHECK(i == want.size());  // F16 logits are ~0.004 from llama.cpp: no near-ties
      if (i == want.size()) std::printf("%s %s: all %zu greedy tokens equal llama.cpp's\n", fmt, seq.name.c_str(), i);
    }
  }
}
