#include "engines/formats/gguf_tensor_names.h"

#include <algorithm>
#include <utility>

namespace qbench {

std::string gguf_name_for_hf(const std::string& n) {
  if (n == "model.embed_tokens.weight") return "token_embd.weight";
  if (n == "lm_head.weight") return "output.weight";
  if (n == "model.norm.weight") return "output_norm.weight";
  const std::string pre = "model.layers.";
  if (n.rfind(pre, 0) != 0) return "";
  const size_t dot = n.find('.', pre.size());
  if (dot == std::string::npos) return "";
  const std::string layer = n.substr(pre.size(), dot - pre.size()), rest = n.substr(dot + 1);
  static const std::pair<const char*, const char*> kMap[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (auto& [hf, gg] : kMap)
    if (rest == hf) return "blk." + layer + "." + gg;
  return "";
}

std::vector<PlannedTensor> planned_tensors(const ModelConfig& c) {
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size, v = c.vocab_size;
  std::vector<std::pair<std::string, std::vector<int64_t>>> hf = {{"model.embed_tokens.weight", {h, v}},
                                                                    {"model.norm.weight", {h}}};
  if (!c.tie_word_embeddings) hf.push_back({"lm_head.weight", {h, v}});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    hf.push_back({p + "input_layernorm.weight", {h}});
    hf.push_back({p + "post_attention_layernorm.weight", {h}});
    hf.push_back({p + "self_attn.q_proj.weight", {h, qd}});
    hf.push_back({p + "self_attn.k_proj.weight", {h, kvd}});
    hf.push_back({p + "self_attn.v_proj.weight", {h, kvd}});
    hf.push_back({p + "self_attn.o_proj.weight", {qd, h}});
    hf.push_back({p + "mlp.gate_proj.weight", {h, ff}});
    hf.push_back({p + "mlp.up_proj.weight", {h, ff}});
    hf.push_back({p + "mlp.down_proj.weight", {ff, h}});
    if (c.attention_bias) {
      hf.push_back({p + "self_attn.q_proj.bias", {qd}});
      hf.push_back({p + "self_attn.k_proj.bias", {kvd}});
      hf.push_back({p + "self_attn.v_proj.bias", {kvd}});
    }
  }
  std::sort(hf.begin(), hf.end());
  std::vector<PlannedTensor> out;
  for (auto& [name, dims] : hf) out.push_back({name, gguf_name_for_hf(name), dims});
  return out;
}

}  // namespace qbench
