// AWQ reader: AutoAWQ's interleaved GEMM layout unpacks bit-exactly to the
// fixture's dequantized rows; bad configs and tensors give clear errors.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/cpu/linear_int4_cpu.h"
#include "engines/formats/awq_checkpoint.h"
#include "engines/formats/hf_checkpoint.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

TEST_CASE("AWQ unpacking is bit-exact against the reference dequantized rows", "[awq][int4][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/reference/dequant/index.json")) return;
  const std::string dir = tiny_fixture_dir() + "/awq";
  HfCheckpoint ck(dir);
  const auto cfg = find_awq_config(dir);
  REQUIRE(cfg.has_value());
  CHECK(cfg->group_size == 128);
  for (const char* prefix : {"model.layers.0.self_attn.q_proj", "model.layers.3.self_attn.v_proj", "model.layers.3.mlp.down_proj"}) {
    std::vector<int64_t> shape;
    const std::vector<float> ref = reference_dequant("awq", std::string(prefix) + ".weight", shape);
    const int64_t in = shape[1], out = ck.require(std::string(prefix) + ".scales").shape[1];
    const quant::Int4Codes c = read_awq_linear(ck, prefix, in, out, *cfg);
    auto lin = make_int4_linear_cpu(c, "awq-int4-g128");
    std::vector<float> rows(size_t(2 * in));
    const int32_t ids[2] = {0, 1};
    lin->gather_rows(ids, 2, rows.data());
    int64_t mismatches = 0, packed_mismatches = 0;
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < in; ++i) {
        mismatches += c.dequant(o, i) != ref[size_t(o * in + i)];
        packed_mismatches += rows[size_t(o * in + i)] != ref[size_t(o * in + i)];
      }
    INFO(prefix);
    CHECK(mismatches == 0);
    CHECK(packed_mismatches == 0);
    // README: zero points of this file range 4..11.
    CHECK(*std::min_element(c.zero.begin(), c.zero.end()) >= 4);
    CHECK(*std::max_element(c.zero.begin(), c.zero.end()) <= 11);
  }
}

TEST_CASE("AWQ config parsing: transformers and legacy keys, unsupported layouts", "[awq][int4]") {
  auto c = parse_awq_config(nlohmann::json::parse(R"({"quant_method":"awq","bits":4,"group_size":64,"version":"GEMM","zero_point":true})"), "x");
  CHECK(c.group_size == 64);
  CHECK(c.version == "gemm");
  auto legacy = parse_awq_config(nlohmann::json::parse(R"({"w_bit":4,"q_group_size":32,"zero_point":true,"version":"GEMM"})"), "q.json");
  CHECK(legacy.group_size == 32);
  CHECK_THROWS_WITH(parse_awq_config(nlohmann::json::parse(R"({"bits":4,"version":"gemv"})"), "x.json"), Catch::Contains("gemv"));
  CHECK_THROWS_WITH(parse_awq_config(nlohmann::json::parse(R"({"bits":4,"zero_point":false})"), "x.json"), Catch::Contains("zero_point"));
  CHECK_THROWS_WITH(parse_awq_config(nlohmann::json::parse(R"({"bits":8})"), "x.json"), Catch::Contains("bits=8"));
}

TEST_CASE("AWQ layers with wrong shapes name the tensor", "[awq][int4][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/awq/model.safetensors")) return;
  const std::string dir = tiny_fixture_dir() + "/awq";
  HfCheckpoint ck(dir);
  const auto cfg = *find_awq_config(dir);
  // q_proj is [256 out, 256 in]; asking for 512 inputs must fail on qweight's shape.
  CHECK_THROWS_WITH(read_awq_linear(ck, "model.layers.0.self_attn.q_proj", 512, 256, cfg),
                    Catch::Contains("model.layers.0.self_attn.q_proj.qweight") && Catch::Contains("[512, 32]"));
  CHECK_THROWS_WITH(read_awq_linear(ck, "model.layers.0.self_attn.q_proj", 256, 250, cfg), Catch::Contains("divisible by 8"));
  CHECK_THROWS_WITH(read_awq_linear(ck, "model.layers.9.self_attn.q_proj", 256, 256, cfg),
                    Catch::Contains("missing tensor 'model.layers.9.self_attn.q_proj.qweight'"));
}
