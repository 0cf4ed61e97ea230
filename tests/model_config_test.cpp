#include <catch2/catch.hpp>

#include "engines/core/error.h"
#include "engines/model/model_config.h"
#include "engines/model/shape_catalog.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;

TEST_CASE("config.json of the tiny fixture parses (transformers 5 rope_parameters)", "[config]") {
  if (!test::require_shared("fixtures/tiny-qwen2/hf-fp16/config.json")) return;
  const ModelConfig c = load_hf_config(test::tiny_fixture_dir() + "/hf-fp16/config.json");
  CHECK(c.architecture == "Qwen2ForCausalLM");
  CHECK(c.hidden_size == 256);
  CHECK(c.intermediate_size == 768);
  CHECK(c.num_layers == 4);
  CHECK(c.num_heads == 4);
  CHECK(c.num_kv_heads == 2);
  CHECK(c.head_dim == 64);
  CHECK(c.vocab_size == 8448);
  CHECK(c.rope_theta == 1e6);
  CHECK(c.rms_norm_eps == 1e-6);
  CHECK(c.tie_word_embeddings);
  CHECK(c.attention_bias);
  CHECK(c.max_position_embeddings == 4096);
  CHECK(c.eos_token_id == 8194);
  // 5.3 M parameters, as the fixture README says.
  CHECK(c.parameter_count() == 8448 * 256 + 4 * (256 * 256 * 2 + 2 * 256 * 128 + 3 * 256 * 768 + 2 * 256 + 256 + 2 * 128) + 256);
}

TEST_CASE("Llama config: defaults for head_dim and kv heads, no biases unless asked", "[config]") {
  const ModelConfig c = parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"vocab_size":128256,"hidden_size":4096,
     "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
     "max_position_embeddings":8192,"rope_theta":500000.0,"rms_norm_eps":1e-5,"eos_token_id":[128001,128009]})", "cfg");
  CHECK(c.head_dim == 128);
  CHECK_FALSE(c.attention_bias);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK(c.eos_token_id == 128001);
  CHECK(c.parameter_count() == shape_config("llama-3-8b").parameter_count());
  CHECK(c.parameter_count() == 8030261248);  // Meta-Llama-3-8B
}

TEST_CASE("catalog shapes have the published parameter counts", "[config]") {
  CHECK(shape_config("qwen2.5-0.5b").parameter_count() == 494032768);
  CHECK(shape_config("qwen2.5-1.5b").parameter_count() == 1543714304);
  CHECK(shape_config("qwen2.5-7b").parameter_count() == 7615616512);
  CHECK_THROWS_AS(shape_config("gpt-5"), Error);
}

TEST_CASE("config errors name the file and the problem", "[config]") {
  auto err = [](const std::string& json) {
    try {
      parse_hf_config(json, "my/config.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(err("{"), Catch::Contains("my/config.json") && Catch::Contains("malformed JSON"));
  CHECK_THAT(err(R"({"architectures":["GPT2LMHeadModel"]})"), Catch::Contains("unsupported architecture"));
  CHECK_THAT(err(R"({"architectures":["Qwen2ForCausalLM"],"hidden_size":8})"), Catch::Contains("missing 'vocab_size'"));
  CHECK_THAT(err(R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":"many","hidden_size":8})"), Catch::Contains("'vocab_size' must be an integer"));
  const std::string base = R"("architectures":["Qwen2ForCausalLM"],"vocab_size":8,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1)";
  CHECK_THAT(err("{" + base + R"(,"num_attention_heads":3,"num_key_value_heads":2})"), Catch::Contains("not a multiple"));
  CHECK_THAT(err("{" + base + R"(,"num_attention_heads":0})"), Catch::Contains("num_attention_heads must be positive"));
  CHECK_THAT(err("{" + base + R"(,"num_attention_heads":2,"rope_scaling":{"rope_type":"yarn","factor":4}})"), Catch::Contains("yarn"));
  CHECK_THAT(err("{" + base + R"(,"num_attention_heads":2,"use_sliding_window":true})"), Catch::Contains("sliding-window"));
}
