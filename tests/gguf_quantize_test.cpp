// The in-tree GGUF quantizer against llama-quantize's files in the fixture:
// Q8_0 blocks bit-identical, K-quant mixes with the same per-tensor types,
// and logits no further from FP16 than 1.5x the fixture file's own distance.
// Also: synthetic GGUF files of a catalog shape load and run.
#include <catch2/catch.hpp>

#include <cstring>

#include "engines/formats/gguf_model.h"
#include "engines/formats/gguf_quantize.h"
#include "engines/formats/gguf_reader.h"
#include "engines/formats/gguf_synthetic.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

// Mean KL vs hf-fp16 at the last position of every reference sequence, for `logits_of(seq)` = last-row logits.
template <class F>
double mean_kl_vs_fp16(F logits_of) {
  double sum = 0;
  int n = 0;
  for (auto& seq : reference_sequences()) {
    const RefLogits fp16 = reference_logits("hf-fp16", seq.name);
    const int64_t last = int64_t(seq.ids.size()) - 1, r = last - fp16.first_pos;
    REQUIRE(r >= 0);
    REQUIRE(r < fp16.rows);
    const std::vector<float> got = logits_of(seq);
    sum += kl_divergence(fp16.data.data() + r * fp16.vocab, got.data(), fp16.vocab);
    ++n;
  }
  return sum / n;
}

std::vector<float> engine_last_logits(Engine& e, const RefSequence& seq) {
  Sequence s = e.model().new_sequence(int64_t(seq.ids.size()), KvType::F16);
  std::vector<float> logits;
  e.model().forward(s, seq.ids.data(), int64_t(seq.ids.size()), LogitsMode::Last, logits);
  return logits;
}

}  // namespace

TEST_CASE("GGUF quantizer: Q8_0 blocks bit-identical to llama-quantize's", "[gguf][gguf_quantize][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gguf/tiny-qwen2-q8_0.gguf")) return;
  const std::string out = temp_dir("gguf-q8") + "/tiny-q8_0.gguf";
  const GgufQuantizeResult r = quantize_hf_to_gguf(tiny_fixture_dir() + "/hf-fp16", quant::GgufMix::Q8_0, out);
  CHECK(r.type_counts == std::map<std::string, int>{{"q8_0", 29}, {"f32", 21}});
  GgufFile mine(out), ref(tiny_fixture_dir() + "/gguf/tiny-qwen2-q8_0.gguf");
  REQUIRE(mine.tensors().size() == ref.tensors().size());
  for (const GgufTensor& t : ref.tensors()) {
    const GgufTensor& m = mine.require_tensor(t.name);
    INFO(t.name);
    CHECK(m.type == t.type);
    CHECK(m.dims == t.dims);
    REQUIRE(m.nbytes == t.nbytes);
    CHECK(std::memcmp(m.data, t.data, t.nbytes) == 0);
  }
  // Same metadata values as the converter wrote (those that do not name the tool or the file).
  for (const char* k : {"general.architecture", "general.file_type", "qwen2.block_count", "qwen2.context_length",
                        "qwen2.embedding_length", "qwen2.feed_forward_length", "qwen2.attention.head_count",
                        "qwen2.attention.head_count_kv", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                        "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.pre",
                        "tokenizer.chat_template"}) {
    INFO(k);
    REQUIRE(mine.find(k) != nullptr);
    CHECK(mine.require(k).describe() == ref.require(k).describe());
  }
  CHECK(mine.require("tokenizer.ggml.tokens").to_strings("t") == ref.require("tokenizer.ggml.tokens").to_strings("t"));
  CHECK(mine.require("tokenizer.ggml.merges").to_strings("m") == ref.require("tokenizer.ggml.merges").to_strings("m"));
  CHECK(mine.require("tokenizer.ggml.token_type").to_ints("t") == ref.require("tokenizer.ggml.token_type").to_ints("t"));
  CHECK(mine.require("qwen2.rope.freq_base").to_double("r") == ref.require("qwen2.rope.freq_base").to_double("r"));
}

TEST_CASE("GGUF quantizer: K-quant mixes match llama-quantize's types, logits as close to FP16", "[gguf][gguf_quantize][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  for (const char* mix : {"q4_k_m", "q5_k_s"}) {
    const std::string fixture = tiny_fixture_dir() + "/gguf/tiny-qwen2-" + mix + ".gguf";
    const std::string out = temp_dir(std::string("gguf-") + mix) + "/tiny.gguf";
    quantize_hf_to_gguf(tiny_fixture_dir() + "/hf-fp16", quant::parse_mix(mix), out);
    GgufFile mine(out), ref(fixture);
    int identical = 0;
    for (const GgufTensor& t : ref.tensors()) {
      const GgufTensor& m = mine.require_tensor(t.name);
      INFO(mix << " " << t.name);
      CHECK(quant::type_name(m.type) == std::string(quant::type_name(t.type)));
      if (m.nbytes == t.nbytes && std::memcmp(m.data, t.data, t.nbytes) == 0) ++identical;
    }
    std::printf("%s: %d of %zu tensors bit-identical to llama-quantize's\n", mix, identical, ref.tensors().size());

    LoadOptions lo;
    lo.path = out;
    auto e = load_engine(lo);
    const double ours = mean_kl_vs_fp16([&](const RefSequence& s) { return engine_last_logits(*e, s); });
    const double theirs = mean_kl_vs_fp16([&](const RefSequence& s) {
      const RefLogits g = reference_logits(std::string("gguf-") + mix, s.name);
      return std::vector<float>(g.data.end() - g.vocab, g.data.end());
    });
    INFO(mix << ": KL vs FP16 ours " << ours << ", llama-quantize file " << theirs);
    std::printf("%s: mean KL vs hf-fp16, ours %.3g, llama-quantize's file %.3g\n", mix, ours, theirs);
    CHECK(ours <= 1.5 * theirs);
  }
}

TEST_CASE("synthetic GGUF files of a catalog shape load and run", "[gguf][gguf_quantize]") {
  const std::string dir = temp_dir("gguf-synth");
  for (const char* mix : {"q8_0", "q5_k_s", "q4_k_m"}) {
    SyntheticGgufOptions o;
    o.out_path = dir + "/tiny-" + mix + ".gguf";
    o.seed = 3;
    const ModelConfig cfg = shape_config("tiny");
    const uint64_t bytes = write_synthetic_gguf(cfg, quant::parse_mix(mix), o);
    GgufFile f(o.out_path);
    CHECK(f.file_bytes() == bytes);
    const auto counts = gguf_type_counts(f);
    INFO(mix);
    if (std::string(mix) == "q4_k_m") {
      CHECK(counts.at("q6_k") == 5);  // token_embd (tied LM head) + attn_v and ffn_down of layers 2, 3
      CHECK(counts.at("q4_k") == 24);
    }
    LoadOptions lo;
    lo.path = o.out_path;
    auto e = load_engine(lo);
    CHECK(e->info().backend == std::string("gguf-") + mix);
    Sequence s = e->model().new_sequence(8, KvType::F16);
    std::vector<float> logits;
    const int32_t ids[3] = {1, 2, 3};
    e->model().forward(s, ids, 3, LogitsMode::Last, logits);
    REQUIRE(int64_t(logits.size()) == cfg.vocab_size);
    for (float v : logits) REQUIRE(std::isfinite(v));
  }
}
