// The memory model against sizes computed by hand for Qwen2.5-0.5B/7B, against
// the byte sizes of every tensor in ../shared/fixtures/tiny-qwen2 (files written
// by transformers, llama.cpp, AutoGPTQ, AutoAWQ), and against what the engine
// itself accounts when it loads a model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>

#include "engines/core/error.h"
#include "engines/formats/safetensors.h"
#include "engines/formats/synthetic_checkpoint.h"
#include "engines/model/gguf_mix_rules.h"
#include "engines/model/memory_model.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

namespace {

std::map<std::string, const TensorBytes*> by_name(const WeightBreakdown& w) {
  std::map<std::string, const TensorBytes*> m;
  for (auto& t : w.tensors) m[t.name] = &t;
  return m;
}

// Every tensor of a safetensors file must be predicted with the same shape and
// byte count, and nothing else predicted; returns the file's tensor-data bytes.
uint64_t check_safetensors(const std::string& path, const WeightBreakdown& w) {
  SafetensorsFile f(path);
  auto pred = by_name(w);
  uint64_t data = 0;
  for (const std::string& n : f.names()) {
    const TensorRef& t = f.require(n);
    INFO(path << ": " << n);
    REQUIRE(pred.count(n));
    CHECK(pred[n]->shape == t.shape);
    CHECK(pred[n]->bytes == t.nbytes);
    data += t.nbytes;
  }
  CHECK(f.names().size() == w.tensors.size());
  return data;
}

// Minimal GGUF v3 walk (header, metadata skipped by type, tensor infos), just
// enough to learn each tensor's type, dims and the start of the data section.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;
  uint32_t type;
  uint64_t offset;
};
struct GgufLayout {
  std::vector<GgufTensorInfo> tensors;
  uint64_t data_start = 0, file_bytes = 0;
};

GgufLayout read_gguf_layout(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto take = [&](size_t n) {
    if (pos + n > buf.size()) throw Error(path + ": truncated");
    const char* p = buf.data() + pos;
    pos += n;
    return p;
  };
  auto u32 = [&] { uint32_t v; std::memcpy(&v, take(4), 4); return v; };
  auto u64 = [&] { uint64_t v; std::memcpy(&v, take(8), 8); return v; };
  auto str = [&] { const uint64_t n = u64(); return std::string(take(size_t(n)), size_t(n)); };
  auto scalar_size = [](uint32_t t) -> size_t {
    switch (t) {
      case 0: case 1: case 7: return 1;
      case 2: case 3: return 2;
      case 4: case 5: case 6: return 4;
      case 10: case 11: case 12: return 8;
      default: return 0;
    }
  };
  REQUIRE(std::string(take(4), 4) == "GGUF");
  REQUIRE(u32() == 3);
  const uint64_t n_tensors = u64(), n_kv = u64();
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = str();
    const uint32_t t = u32();
    if (t == 8) str();
    else if (t == 9) {
      const uint32_t et = u32();
      const uint64_t n = u64();
      for (uint64_t j = 0; j < n; ++j) et == 8 ? (void)str() : (void)take(scalar_size(et));
    } else if (key == "general.alignment") alignment = u32();
    else take(scalar_size(t));
  }
  GgufLayout g;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo ti;
    ti.name = str();
    const uint32_t nd = u32();
    for (uint32_t d = 0; d < nd; ++d) ti.dims.push_back(int64_t(u64()));
    ti.type = u32();
    ti.offset = u64();
    g.tensors.push_back(ti);
  }
  g.data_start = (pos + alignment - 1) / alignment * alignment;
  g.file_bytes = buf.size();
  return g;
}

std::string ggml_type_name_of(uint32_t id) {
  static const std::map<uint32_t, std::string> names = {{0, "f32"},  {1, "f16"},  {2, "q4_0"}, {3, "q4_1"},
                                                        {6, "q5_0"}, {7, "q5_1"}, {8, "q8_0"}, {12, "q4_k"},
                                                        {13, "q5_k"}, {14, "q6_k"}, {30, "bf16"}};
  auto it = names.find(id);
  return it == names.end() ? "type" + std::to_string(id) : it->second;
}

uint64_t align32(uint64_t n) { return (n + 31) / 32 * 32; }

ModelConfig tiny_config() { return load_hf_config(tiny_fixture_dir() + "/hf-fp16/config.json"); }

}  // namespace

TEST_CASE("memory model: Qwen2.5-0.5B and 7B sizes computed by hand", "[memory_model]") {
  const ModelConfig s = shape_config("qwen2.5-0.5b"), b = shape_config("qwen2.5-7b");
  // Parameters: 0.5B = 494,032,768 (tied), 7B = 7,615,616,512 (untied) as published.
  CHECK(weight_bytes(s, "fp16") == 2ull * 494032768ull);
  CHECK(weight_bytes(b, "fp16") == 2ull * 7615616512ull);
  CHECK(weight_bytes(b, "bf16") == 2ull * 7615616512ull);

  // 7B Q4_K_M (rows 3584 and 18944 are multiples of 256: no fallback).
  // token_embd q4_k, output q6_k; attn_v and ffn_down q6_k in the 14 layers
  // use_more_bits picks for 28 layers (0,1,2,5,8,...,23,24..27), q4_k elsewhere.
  {
    const uint64_t E = 152064ull * 3584, Q = 3584ull * 3584, KV = 512ull * 3584, F = 18944ull * 3584;
    auto q4 = [](uint64_t n) { return n / 256 * 144; };
    auto q6 = [](uint64_t n) { return n / 256 * 210; };
    const uint64_t f32 = (2 * 3584 + 3584 + 512 + 512) * 4;  // two norms and the q/k/v biases per layer
    const uint64_t common = q4(Q) * 2 + q4(KV) + q4(F) * 2 + f32;
    const uint64_t expect = q4(E) + q6(E) + 3584 * 4 + 28 * common + 14 * (q6(KV) + q6(F)) + 14 * (q4(KV) + q4(F));
    CHECK(expect == 4677120000ull);  // + 5.9 MB metadata = the published 4,683,073,504-byte file
    CHECK(weight_bytes(b, "gguf-q4_k_m") == expect);
    int more = 0;
    for (int64_t l = 0; l < 28; ++l)
      more += gguf_weight_type(b, "q4_k_m", "blk.N.attn_v.weight", 3584, l, true) == "q6_k";
    CHECK(more == 14);
  }
  // 7B Q8_0 and Q5_K_S.
  {
    const uint64_t P = 7615616512ull, vec = 28 * (3 * 3584 + 1024) + 3584;  // 1-D tensors stay f32
    const uint64_t E = 152064ull * 3584;
    CHECK(weight_bytes(b, "gguf-q8_0") == (P - vec) / 32 * 34 + vec * 4);
    CHECK(weight_bytes(b, "gguf-q5_k_s") == (P - vec - E) / 256 * 176 + E / 256 * 210 + vec * 4);
  }
  // 0.5B Q4_K_M: hidden 896 is not a multiple of 256, so every tensor with
  // 896-element rows falls back: q4_k -> q5_0, q6_k -> q8_0; the tied
  // embedding (output rule) -> q8_0; ffn_down (rows of 4864 = 19*256) keeps K-quants.
  {
    const uint64_t E = 151936ull * 896, Q = 896ull * 896, KV = 128ull * 896, F = 4864ull * 896;
    auto q50 = [](uint64_t n) { return n / 32 * 22; };
    auto q80 = [](uint64_t n) { return n / 32 * 34; };
    const uint64_t f32 = (3 * 896 + 256) * 4;
    uint64_t expect = q80(E) + 896 * 4;
    for (int l = 0; l < 24; ++l) {
      const bool more = l < 3 || l >= 21 || (l - 3) % 3 == 2;
      expect += q50(Q) * 2 + q50(KV) + q50(F) * 2 + f32;
      expect += more ? q80(KV) + F / 256 * 210 : q50(KV) + F / 256 * 144;
    }
    CHECK(weight_bytes(s, "gguf-q4_k_m") == expect);
    CHECK(gguf_weight_type(s, "q4_k_m", "token_embd.weight", 896, -1, false) == "q8_0");
    CHECK(gguf_weight_type(s, "q5_k_s", "blk.0.attn_q.weight", 896, 0, false) == "q5_1");
  }
  // GPTQ int4 g128 on 7B: per linear in*out/2 (qweight) + groups*out/2 (qzeros)
  // + groups*out*2 (scales) + in*4 (g_idx); embeddings, LM head, norms, biases f16.
  {
    auto gptq = [](uint64_t out, uint64_t in) { return in * out / 2 + in / 128 * out / 2 + in / 128 * out * 2 + in * 4; };
    auto awq = [](uint64_t out, uint64_t in) { return in * out / 2 + in / 128 * out / 2 + in / 128 * out * 2; };
    const uint64_t E = 152064ull * 3584 * 2;
    const uint64_t vec = (28 * (3 * 3584 + 1024) + 3584) * 2;
    uint64_t g = 2 * E + vec, a = 2 * E + vec;
    for (int l = 0; l < 28; ++l) {
      g += 2 * gptq(3584, 3584) + 2 * gptq(512, 3584) + 2 * gptq(18944, 3584) + gptq(3584, 18944);
      a += 2 * awq(3584, 3584) + 2 * awq(512, 3584) + 2 * awq(18944, 3584) + awq(3584, 18944);
    }
    CHECK(weight_bytes(b, "gptq-int4") == g);
    CHECK(weight_bytes(b, "awq-int4") == a);
  }
  // KV per token: layers x 2 x kv_heads x head_dim x bytes (DESIGN.md: 56 KiB for 7B in f16);
  // q8_0 34 bytes per 32 values, q4_0 18 per 32.
  CHECK(kv_bytes_per_token(b, "f16") == 56ull * 1024);
  CHECK(kv_bytes_per_token(b, "f32") == 112ull * 1024);
  CHECK(kv_bytes_per_token(b, "q8_0") == 28ull * 2 * 512 / 32 * 34);
  CHECK(kv_bytes_per_token(b, "q4_0") == 28ull * 2 * 512 / 32 * 18);
  CHECK(kv_bytes_per_token(s, "f16") == 24ull * 2 * 2 * 64 * 2);
}

TEST_CASE("memory model: bad input gives a clear error", "[memory_model]") {
  const ModelConfig b = shape_config("qwen2.5-7b");
  CHECK_THROWS_AS(weight_bytes(b, "gguf-q3_k_xl"), Error);
  CHECK_THROWS_AS(weight_bytes(b, "int3"), Error);
  CHECK_THROWS_AS(kv_bytes_per_token(b, "q2"), Error);
  ModelConfig odd = b;
  odd.intermediate_size = 18945;  // not packable in 4 bits, not a block multiple
  CHECK_THROWS_AS(weight_bytes(odd, "gptq-int4"), Error);
  CHECK_THROWS_AS(weight_bytes(odd, "gguf-q8_0"), Error);
  ModelConfig zero = b;
  zero.num_layers = 0;
  CHECK_THROWS_AS(weight_bytes(zero, "fp16"), Error);
  ModelConfig huge = b;
  huge.head_dim = int64_t(1) << 40;
  CHECK_THROWS_AS(kv_bytes_per_token(huge, "f16"), Error);
}

TEST_CASE("memory model: every tensor of the tiny-qwen2 safetensors checkpoints", "[memory_model][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  const ModelConfig c = tiny_config();
  const std::string dir = tiny_fixture_dir();
  struct Case { const char* file; const char* backend; uint64_t file_bytes; };
  for (const Case& k : {Case{"hf-fp16/model.safetensors", "fp16", 10630832}, Case{"gptq/model.safetensors", "gptq-int4", 6019272},
                        Case{"gptq-actorder/model.safetensors", "gptq-int4", 6019272},
                        Case{"awq/model.safetensors", "awq-int4", 5979464}}) {
    INFO(k.file);
    const WeightBreakdown w = weight_breakdown(c, k.backend);
    const uint64_t data = check_safetensors(dir + "/" + k.file, w);
    CHECK(data == w.total());
    // The rest of the file is the 8-byte length and the JSON header.
    std::ifstream f(dir + "/" + k.file, std::ios::binary);
    uint64_t header = 0;
    f.read(reinterpret_cast<char*>(&header), 8);
    CHECK(k.file_bytes == 8 + header + w.total());
  }
}

TEST_CASE("memory model: every tensor of the tiny-qwen2 GGUF files", "[memory_model][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gguf/tiny-qwen2-q4_k_m.gguf")) return;
  const ModelConfig c = tiny_config();
  for (const std::string ft : {"f16", "q8_0", "q5_k_s", "q4_k_m"}) {
    INFO(ft);
    const GgufLayout g = read_gguf_layout(tiny_fixture_dir() + "/gguf/tiny-qwen2-" + ft + ".gguf");
    const WeightBreakdown w = weight_breakdown(c, "gguf-" + ft);
    auto pred = by_name(w);
    REQUIRE(g.tensors.size() == w.tensors.size());
    // Tensor sizes from consecutive offsets (data is laid out in offset order, each aligned to 32).
    std::vector<GgufTensorInfo> sorted = g.tensors;
    std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    uint64_t padded_total = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      const GgufTensorInfo& t = sorted[i];
      INFO(t.name);
      REQUIRE(pred.count(t.name));
      CHECK(pred[t.name]->storage == ggml_type_name_of(t.type));
      CHECK(pred[t.name]->shape == t.dims);
      const uint64_t end = i + 1 < sorted.size() ? sorted[i + 1].offset : g.file_bytes - g.data_start;
      CHECK(end - t.offset == align32(pred[t.name]->bytes));
      padded_total += align32(pred[t.name]->bytes);
    }
    // Metadata = everything before the aligned data section; the rest is tensor data.
    CHECK(g.file_bytes - g.data_start == padded_total);
    CHECK(w.total() == padded_total);  // every tiny tensor is a multiple of 32 bytes already
  }
}

TEST_CASE("memory model: matches the engine's own accounting", "[memory_model][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  auto e = load_engine(lo);
  const ModelConfig& c = e->config();
  CHECK(e->model().memory().current().weights == weight_breakdown(c, "fp16").resident_total());
  CHECK(e->model().weights().weight_bytes() == weight_breakdown(c, "fp16").resident_total());
  for (const char* kv : {"f16", "f32"}) {
    Sequence s = e->model().new_sequence(40, parse_kv_type(kv));
    CHECK(e->model().memory().current().kv_cache == 40 * kv_bytes_per_token(c, kv));
    std::vector<int32_t> ids(37, 17);
    std::vector<float> logits;
    e->model().forward(s, ids.data(), int64_t(ids.size()), LogitsMode::Last, logits);
    CHECK(e->model().memory().current().activations == activation_bytes(c, 37));
    CHECK(logits.size() * sizeof(float) == logits_bytes(c, 1));
  }
}

TEST_CASE("memory model: matches the engine on a synthetic catalog shape", "[memory_model]") {
  const ModelConfig c = shape_config("tiny");
  SyntheticOptions so;
  so.out_dir = temp_dir("memory_model_synthetic");
  const uint64_t written = write_synthetic_checkpoint(c, so);
  CHECK(written == weight_bytes(c, "fp16"));
  LoadOptions lo;
  lo.path = so.out_dir;
  lo.max_chunk = 16;
  auto e = load_engine(lo);
  CHECK(e->model().memory().current().weights == weight_breakdown(e->config(), "fp16").resident_total());
  Sequence s = e->model().new_sequence(64, KvType::F16);
  std::vector<int32_t> ids(40, 5);
  std::vector<float> logits;
  e->model().forward(s, ids.data(), int64_t(ids.size()), LogitsMode::Last, logits);
  CHECK(e->model().memory().peak().activations == activation_bytes(c, 16));  // chunked prefill: 16 rows at most
}
