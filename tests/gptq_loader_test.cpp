// GPTQ reader: unpacking is bit-exact against the fixture's dequantized rows
// (classic zero−1 storage, plain and act-order g_idx), and broken checkpoints
// give errors that name the tensor or setting.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/cpu/linear_int4_cpu.h"
#include "engines/formats/gptq_checkpoint.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/safetensors_writer.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;
namespace fs = std::filesystem;

namespace {

const char* kDequantTensors[] = {"model.layers.0.self_attn.q_proj", "model.layers.3.self_attn.v_proj", "model.layers.3.mlp.down_proj"};

// Copies a fixture checkpoint to a temp dir, letting `edit` change tensors and quantize_config.json.
std::string variant(const std::string& fixture, const std::function<void(std::vector<TensorToWrite>&)>& edit_tensors,
                    const std::function<void(nlohmann::json&)>& edit_config = nullptr) {
  const std::string src = tiny_fixture_dir() + "/" + fixture;
  const std::string dst = temp_dir("gptq-variant");
  static std::vector<std::shared_ptr<HfCheckpoint>> keep;  // tensor bytes are copied lazily by the writer
  auto ck = std::make_shared<HfCheckpoint>(src);
  keep.push_back(ck);
  std::vector<TensorToWrite> ts;
  for (auto& n : ck->names()) {
    const TensorRef* t = ck->find(n);
    ts.push_back({n, t->dtype, t->shape, [t](uint8_t* d, uint64_t nb) { std::memcpy(d, t->data, std::min<uint64_t>(nb, t->nbytes)); }});
  }
  edit_tensors(ts);
  write_safetensors_checkpoint(dst, ts, {{"format", "pt"}}, 1ull << 40);
  fs::copy_file(src + "/config.json", dst + "/config.json");
  nlohmann::json qc = nlohmann::json::parse(std::ifstream(src + "/quantize_config.json"));
  if (edit_config) edit_config(qc);
  std::ofstream(dst + "/quantize_config.json") << qc.dump(2);
  return dst;
}

void erase(std::vector<TensorToWrite>& ts, const std::string& name) {
  std::erase_if(ts, [&](const TensorToWrite& t) { return t.name == name; });
}

std::string load_error(const std::string& dir) {
  try {
    LoadOptions lo;
    lo.path = dir;
    lo.backend = "gptq-int4";
    load_engine(lo);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("GPTQ unpacking is bit-exact against the reference dequantized rows", "[gptq][int4][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/dequant/index.json")) return;
  for (const char* fmt : {"gptq", "gptq-actorder"}) {
    const std::string dir = tiny_fixture_dir() + "/" + fmt;
    HfCheckpoint ck(dir);
    const auto cfg = find_gptq_config(dir);
    REQUIRE(cfg.has_value());
    CHECK(cfg->desc_act == (std::string(fmt) == "gptq-actorder"));
    for (const char* prefix : kDequantTensors) {
      std::vector<int64_t> shape;
      const std::vector<float> ref = reference_dequant(fmt, std::string(prefix) + ".weight", shape);
      REQUIRE(shape.size() == 2);
      const int64_t in = shape[1], out = ck.require(std::string(prefix) + ".qweight").shape[1];
      const quant::Int4Codes c = read_gptq_linear(ck, prefix, in, out, *cfg);
      CHECK(c.g_idx.empty() == (std::string(fmt) == "gptq"));
      // Through the CPU Linear's packed layout too (act-order permutation and back).
      auto lin = make_int4_linear_cpu(c, "gptq-int4-g128");
      std::vector<float> rows(size_t(2 * in));
      const int32_t ids[2] = {0, 1};
      lin->gather_rows(ids, 2, rows.data());
      int64_t mismatches = 0, packed_mismatches = 0;
      for (int64_t o = 0; o < shape[0]; ++o)
        for (int64_t i = 0; i < in; ++i) {
          mismatches += c.dequant(o, i) != ref[size_t(o * in + i)];
          packed_mismatches += rows[size_t(o * in + i)] != ref[size_t(o * in + i)];
        }
      INFO(fmt << " " << prefix);
      CHECK(mismatches == 0);
      CHECK(packed_mismatches == 0);
    }
  }
}

TEST_CASE("GPTQ config parsing: both config places, formats, bad settings", "[gptq][int4]") {
  auto j = nlohmann::json::parse(R"({"bits":4,"group_size":-1,"desc_act":true,"sym":false,"checkpoint_format":"gptq_v2"})");
  GptqConfig c = parse_gptq_config(j, "x.json");
  CHECK(c.group_size == -1);
  CHECK(!c.sym);
  CHECK(!c.zeros_minus_one());
  CHECK(parse_gptq_config(nlohmann::json::parse(R"({"bits":4})"), "x").zeros_minus_one());
  CHECK_THROWS_WITH(parse_gptq_config(nlohmann::json::parse(R"({"bits":3})"), "x.json"), Catch::Contains("bits=3"));
  CHECK_THROWS_WITH(parse_gptq_config(nlohmann::json::parse(R"({"bits":4,"checkpoint_format":"marlin"})"), "x.json"),
                    Catch::Contains("marlin"));
  CHECK_THROWS_WITH(parse_gptq_config(nlohmann::json::parse(R"({"bits":"four"})"), "x.json"), Catch::Contains("'bits'"));
}

TEST_CASE("GPTQ checkpoints with missing or inconsistent tensors give clear errors", "[gptq][int4][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  const std::string q = "model.layers.1.self_attn.k_proj";
  std::string e = load_error(variant("gptq", [&](auto& ts) { erase(ts, q + ".qzeros"); }));
  CHECK_THAT(e, Catch::Contains("missing tensor '" + q + ".qzeros'"));

  e = load_error(variant("gptq", [&](auto& ts) {
    for (auto& t : ts)
      if (t.name == q + ".qweight") t.shape = {16, 256};  // [in/8, out] would be [32, 128]
  }));
  CHECK_THAT(e, Catch::Contains(q + ".qweight") && Catch::Contains("[16, 256]") && Catch::Contains("[32, 128]"));

  e = load_error(variant("gptq", [&](auto& ts) {
    for (auto& t : ts)
      if (t.name == q + ".scales") t.shape = {1, 128};
  }));
  CHECK_THAT(e, Catch::Contains(q + ".scales"));

  e = load_error(variant("gptq", [&](auto& ts) {
    for (auto& t : ts)
      if (t.name == q + ".qweight") t.dtype = DType::F32;
  }));
  CHECK_THAT(e, Catch::Contains(q + ".qweight") && Catch::Contains("dtype F32"));

  e = load_error(variant("gptq", [](auto&) {}, [](nlohmann::json& j) { j["bits"] = 8; }));
  CHECK_THAT(e, Catch::Contains("bits=8"));

  e = load_error(variant("gptq-actorder", [&](auto& ts) {
    for (auto& t : ts)
      if (t.name == q + ".g_idx") t.fill = [](uint8_t* d, uint64_t nb) { std::memset(d, 0x7f, nb); };
  }));
  CHECK_THAT(e, Catch::Contains(q + ".g_idx") && Catch::Contains("outside"));

  e = load_error(variant("gptq-actorder", [&](auto& ts) {
    for (auto& t : ts)  // every input in group 0: not an act-order layout
      if (t.name == q + ".g_idx") t.fill = [](uint8_t* d, uint64_t nb) { std::memset(d, 0, nb); };
  }));
  CHECK_THAT(e, Catch::Contains(q) && Catch::Contains("g_idx"));
}

TEST_CASE("gptq_v2 checkpoints store the zero point itself", "[gptq][int4][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gptq/model.safetensors")) return;
  // Rewrite every qzeros word as zero (7 -> 8 per nibble, sym) and declare gptq_v2: same weights.
  const std::string dir = variant("gptq", [](auto& ts) {
    for (auto& t : ts)
      if (t.name.ends_with(".qzeros")) t.fill = [](uint8_t* d, uint64_t nb) { std::memset(d, 0x88, nb); };
  }, [](nlohmann::json& j) { j["checkpoint_format"] = "gptq_v2"; });
  HfCheckpoint v2(dir), v1(tiny_fixture_dir() + "/gptq");
  const auto c2 = read_gptq_linear(v2, kDequantTensors[0], 256, 256, *find_gptq_config(dir));
  const auto c1 = read_gptq_linear(v1, kDequantTensors[0], 256, 256, *find_gptq_config(tiny_fixture_dir() + "/gptq"));
  CHECK(c1.zero == c2.zero);
  CHECK(c1.zero[0] == 8);
}
