#pragma once
// Architecture hyper-parameters of a Qwen2/Llama-family decoder, whatever file
// they came from (HF config.json, GGUF metadata, the synthetic-shape catalog).
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace qbench {

struct ModelConfig {
  std::string architecture;   // "Qwen2ForCausalLM" or "LlamaForCausalLM"
  std::string model_type;     // "qwen2" / "llama"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (Qwen2: true)
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  // Parameters counted as HF does (tied embeddings once).
  int64_t parameter_count() const;
  // Throws qbench::Error when a value is missing, non-positive or inconsistent.
  void validate(const std::string& where) const;

  nlohmann::json to_json() const;
};

// Parses an HF config.json (text). `where` names the file in error messages.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& where);
ModelConfig load_hf_config(const std::string& path);
// HF config.json text for a config (used by `qbench fixture`).
std::string hf_config_json(const ModelConfig& c);

}  // namespace qbench
