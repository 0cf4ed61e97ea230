#include "engines/model/model_config.h"

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/formats/hf_checkpoint.h"

namespace qbench {

using nlohmann::json;

int64_t ModelConfig::parameter_count() const {
  const int64_t h = hidden_size, kv = num_kv_heads * head_dim, q = num_heads * head_dim;
  int64_t per_layer = h * q + 2 * h * kv + q * h      // q, k, v, o
                      + 3 * h * intermediate_size    // gate, up, down
                      + 2 * h;                       // two norms
  if (attention_bias) per_layer += q + 2 * kv;
  int64_t n = num_layers * per_layer + vocab_size * h + h;
  if (!tie_word_embeddings) n += vocab_size * h;
  return n;
}

void ModelConfig::validate(const std::string& where) const {
  auto pos = [&](int64_t v, const char* key) {
    if (v <= 0) throw Error(where + ": " + key + " must be positive (got " + std::to_string(v) + ")");
  };
  pos(vocab_size, "vocab_size");
  pos(hidden_size, "hidden_size");
  pos(intermediate_size, "intermediate_size");
  pos(num_layers, "num_hidden_layers");
  pos(num_heads, "num_attention_heads");
  pos(num_kv_heads, "num_key_value_heads");
  pos(head_dim, "head_dim");
  pos(max_position_embeddings, "max_position_embeddings");
  if (num_heads % num_kv_heads != 0)
    throw Error(where + ": num_attention_heads (" + std::to_string(num_heads) + ") is not a multiple of num_key_value_heads (" +
                std::to_string(num_kv_heads) + ")");
  if (head_dim % 2 != 0) throw Error(where + ": head_dim must be even for RoPE");
  if (!(rope_theta > 0)) throw Error(where + ": rope_theta must be positive");
  if (!(rms_norm_eps > 0)) throw Error(where + ": rms_norm_eps must be positive");
  // Bound sizes so later byte arithmetic cannot overflow (larger than any released model by far).
  if (hidden_size > (1 << 20) || intermediate_size > (1 << 22) || vocab_size > (1 << 24) || num_layers > 4096)
    throw Error(where + ": implausibly large dimensions");
}

json ModelConfig::to_json() const {
  return {{"architecture", architecture}, {"model_type", model_type}, {"vocab_size", vocab_size},
          {"hidden_size", hidden_size}, {"intermediate_size", intermediate_size}, {"num_layers", num_layers},
          {"num_heads", num_heads}, {"num_kv_heads", num_kv_heads}, {"head_dim", head_dim},
          {"max_position_embeddings", max_position_embeddings}, {"rope_theta", rope_theta},
          {"rms_norm_eps", rms_norm_eps}, {"tie_word_embeddings", tie_word_embeddings},
          {"attention_bias", attention_bias}, {"parameters", parameter_count()}};
}

namespace {

int64_t get_int(const json& j, const char* key, const std::string& where, int64_t fallback, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw Error(where + ": missing '" + key + "'");
    return fallback;
  }
  if (!j[key].is_number_integer()) throw Error(where + ": '" + key + "' must be an integer");
  return j[key].get<int64_t>();
}

double get_num(const json& j, const char* key, const std::string& where, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) throw Error(where + ": '" + key + "' must be a number");
  return j[key].get<double>();
}

bool get_bool(const json& j, const char* key, const std::string& where, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(where + ": '" + key + "' must be true or false");
  return j[key].get<bool>();
}

int64_t first_id(const json& j, const char* key) {
  if (!j.contains(key)) return -1;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  return -1;
}

}  // namespace

ModelConfig parse_hf_config(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(where + ": malformed JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(where + ": not a JSON object");
  ModelConfig c;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    c.architecture = j["architectures"][0].get<std::string>();
  c.model_type = j.value("model_type", "");
  if (c.architecture.empty()) c.architecture = c.model_type == "llama" ? "LlamaForCausalLM" : c.model_type == "qwen2" ? "Qwen2ForCausalLM" : "";
  if (c.architecture != "Qwen2ForCausalLM" && c.architecture != "LlamaForCausalLM")
    throw Error(where + ": unsupported architecture '" + c.architecture +
                "' (supported: Qwen2ForCausalLM, LlamaForCausalLM)");
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";
  if (c.model_type.empty()) c.model_type = qwen2 ? "qwen2" : "llama";

  c.vocab_size = get_int(j, "vocab_size", where, 0, true);
  c.hidden_size = get_int(j, "hidden_size", where, 0, true);
  c.intermediate_size = get_int(j, "intermediate_size", where, 0, true);
  c.num_layers = get_int(j, "num_hidden_layers", where, 0, true);
  c.num_heads = get_int(j, "num_attention_heads", where, 0, true);
  c.num_kv_heads = get_int(j, "num_key_value_heads", where, c.num_heads, false);
  c.head_dim = get_int(j, "head_dim", where, c.num_heads > 0 ? c.hidden_size / c.num_heads : 0, false);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", where, 4096, false);
  c.rms_norm_eps = get_num(j, "rms_norm_eps", where, 1e-6);
  c.rope_theta = get_num(j, "rope_theta", where, 10000.0);
  // transformers >= 5 stores RoPE under rope_parameters.
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object())
    c.rope_theta = get_num(j["rope_parameters"], "rope_theta", where + ": rope_parameters", c.rope_theta);
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (j.contains(key) && j[key].is_object()) {
      const json& r = j[key];
      std::string type = r.value("rope_type", r.value("type", "default"));
      if (type != "default")
        throw Error(where + ": RoPE scaling '" + type + "' is not supported yet (only plain RoPE)");
    }
  }
  if (get_bool(j, "use_sliding_window", where, false))
    throw Error(where + ": sliding-window attention is not supported (use_sliding_window: true)");
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", where, false);
  c.attention_bias = qwen2 ? true : get_bool(j, "attention_bias", where, false);
  c.bos_token_id = first_id(j, "bos_token_id");
  c.eos_token_id = first_id(j, "eos_token_id");
  c.validate(where);
  return c;
}

ModelConfig load_hf_config(const std::string& path) { return parse_hf_config(read_text_file(path), path); }

std::string hf_config_json(const ModelConfig& c) {
  json j = {{"architectures", {c.architecture}},
            {"model_type", c.model_type},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_layers},
            {"num_attention_heads", c.num_heads},
            {"num_key_value_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rope_theta", c.rope_theta},
            {"rms_norm_eps", c.rms_norm_eps},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"hidden_act", "silu"},
            {"torch_dtype", "float16"},
            {"use_sliding_window", false}};
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  if (c.model_type == "llama") j["attention_bias"] = c.attention_bias;
  return j.dump(2) + "\n";
}

}  // namespace qbench
