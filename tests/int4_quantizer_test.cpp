// In-tree quantizers on the tiny-qwen2 FP16 model with the bundled
// calibration text: GPTQ (plain and act-order) and AWQ beat round-to-nearest
// on the calibration output error ‖(W − Ŵ)X‖, the written AutoGPTQ/AutoAWQ
// files reload with the gptq-int4 / awq-int4 backends and run; file-level
// round trips of the writers are exact.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engines/formats/awq_checkpoint.h"
#include "engines/formats/gptq_awq_writer.h"
#include "engines/formats/gptq_checkpoint.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/hf_weights.h"
#include "engines/quant/int4_gptq.h"
#include "engines/quant/int4_model_quantizer.h"
#include "engines/quant/int4_rtn.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

const char* kLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};

// Mean KL of the last-position logits against hf-fp16's reference over the six sequences.
double mean_kl_vs_fp16(Engine& e) {
  const int64_t V = e.config().vocab_size;
  double kl = 0;
  int n = 0;
  for (auto& seq : reference_sequences()) {
    const RefLogits ref = reference_logits("hf-fp16", seq.name);
    Sequence s = e.model().new_sequence(int64_t(seq.ids.size()), KvType::F32);
    std::vector<float> got;
    e.model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::Last, got);
    CHECK(std::all_of(got.begin(), got.end(), [](float v) { return std::isfinite(v); }));
    kl += kl_divergence(ref.data.data() + (ref.rows - 1) * V, got.data(), V);
    ++n;
  }
  return kl / n;
}

}  // namespace

TEST_CASE("GPTQ and AWQ writers round-trip codes exactly through their files", "[int4][gptq][awq][quantize][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  const std::string src = tiny_fixture_dir() + "/hf-fp16";
  HfCheckpoint ck(src);
  for (auto fmt : {Int4FileFormat::Gptq, Int4FileFormat::Awq}) {
    for (bool act : {false, true}) {
      if (fmt == Int4FileFormat::Awq && act) continue;
      Int4Checkpoint out;
      out.format = fmt;
      out.desc_act = act;
      out.sym = false;
      std::mt19937 rng(11);
      for (int l = 0; l < 4; ++l)
        for (const char* n : kLinears) {
          const std::string p = "model.layers." + std::to_string(l) + "." + n;
          const TensorRef& t = ck.require(p + ".weight");
          const auto w = tensor_to_f32(t, t.shape);
          auto c = quant::rtn_quantize(w.data(), t.shape[0], t.shape[1], 128,
                                       fmt == Int4FileFormat::Awq ? quant::Int4Style::Awq : quant::Int4Style::GptqAsym);
          if (act) {  // a random act-order grouping
            std::vector<int32_t> perm(static_cast<size_t>(c.in));
            std::iota(perm.begin(), perm.end(), 0);
            std::shuffle(perm.begin(), perm.end(), rng);
            c.g_idx.resize(perm.size());
            for (int64_t j = 0; j < c.in; ++j) c.g_idx[size_t(perm[size_t(j)])] = int32_t(j / 128);
          }
          out.linears.emplace(p, std::move(c));
        }
      const std::string dir = temp_dir("int4-writer");
      write_int4_checkpoint(src, dir, out);
      HfCheckpoint back(dir);
      int64_t mismatches = 0;
      for (auto& [p, c] : out.linears) {
        const quant::Int4Codes r = fmt == Int4FileFormat::Gptq ? read_gptq_linear(back, p, c.in, c.out, *find_gptq_config(dir))
                                                              : read_awq_linear(back, p, c.in, c.out, *find_awq_config(dir));
        for (int64_t o = 0; o < c.out; ++o)
          for (int64_t i = 0; i < c.in; ++i) mismatches += r.dequant(o, i) != c.dequant(o, i);
      }
      INFO((fmt == Int4FileFormat::Gptq ? "gptq" : "awq") << (act ? " act-order" : ""));
      CHECK(mismatches == 0);
      CHECK(detect_backend(dir) == (fmt == Int4FileFormat::Gptq ? "gptq-int4" : "awq-int4"));
    }
  }
}

TEST_CASE("GPTQ and AWQ beat round-to-nearest on calibration output error; their files reload and run",
          "[int4][gptq][awq][quantize][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  if (!require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  const std::string src = tiny_fixture_dir() + "/hf-fp16";
  struct Run { const char* method; bool desc_act; const char* backend; };
  for (const Run& r : {Run{"gptq", false, "gptq-int4"}, Run{"gptq", true, "gptq-int4"}, Run{"awq", false, "awq-int4"}}) {
    quant::ModelQuantizeOptions o;
    o.method = r.method;
    o.desc_act = r.desc_act;
    o.calibration = quant::calibration_for_model(src, "", 128, 128);
    REQUIRE(o.calibration.size() >= 8);
    const std::string dir = temp_dir("int4-quantized");
    const auto rep = quant::quantize_model(src, dir, o);
    double m = 0, rtn = 0, e = 0;
    int worse = 0;
    for (auto& x : rep) {
      m += x.err_method, rtn += x.err_rtn, e += x.energy;
      worse += x.err_method > x.err_rtn;
    }
    const std::string label = std::string(r.method) + (r.desc_act ? " act-order" : "");
    WARN(label << ":\n" << quant::error_report_table(rep, r.method));
    INFO(label);
    CHECK(m < rtn);  // summed over the model
    CHECK(worse == 0);  // and per linear (GPTQ) / per group (AWQ, whose grid includes α = 0, i.e. RTN)
    auto eng = [&] {
      LoadOptions lo;
      lo.path = dir;
      return load_engine(lo);
    }();
    CHECK(eng->info().backend == r.backend);
    const double kl = mean_kl_vs_fp16(*eng);
    WARN(label << ": mean KL of the reloaded model vs hf-fp16 reference = " << kl << " (fixture's AutoGPTQ/AutoAWQ files: 0.06)");
    CHECK(kl < 0.2);
  }
}
