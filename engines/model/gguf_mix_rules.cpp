#include "engines/model/gguf_mix_rules.h"

#include "engines/core/error.h"

namespace qbench {

namespace {

constexpr int64_t kQK_K = 256;

// ggml-common.h block sizes of the types the mixes below can produce.
const GgmlBlock kBlocks[] = {
    {"f32", 1, 4},      {"f16", 1, 2},      {"bf16", 1, 2},     {"q4_0", 32, 18},   {"q4_1", 32, 20},
    {"q5_0", 32, 22},   {"q5_1", 32, 24},   {"q8_0", 32, 34},   {"q4_k", 256, 144}, {"q5_k", 256, 176},
    {"q6_k", 256, 210},
};

// llama-quant.cpp: layers that get more bits in the *_M mixes (first and last
// eighth, and every third layer in between).
bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// The type a file type starts from before the per-tensor rules.
std::string default_type(const std::string& ft) {
  if (ft == "f16") return "f16";
  if (ft == "q8_0") return "q8_0";
  if (ft == "q5_k_s") return "q5_k";
  if (ft == "q4_k_m") return "q4_k";
  throw Error("unknown GGUF file type '" + ft + "' (the memory model knows f16, q8_0, q5_k_s, q4_k_m)");
}

// llama.cpp model types decide one rule: 80-layer GQA models are LLM_TYPE_70B
// (Llama-3-70B, Qwen2.5-72B), whose small attn_v gets Q5_K instead of Q3_K/Q4_K.
bool is_70b_class(const ModelConfig& c) { return c.num_layers == 80 && c.num_kv_heads < c.num_heads; }

// When a row is not a multiple of the K-quant block, llama-quantize falls back
// to a legacy type with 32-element blocks (and to F16 when even that fails).
std::string fallback(const std::string& t, int64_t ne0) {
  if (ne0 % ggml_block(t).block == 0) return t;
  std::string f;
  if (t == "q4_k") f = "q5_0";
  else if (t == "q5_k") f = "q5_1";
  else if (t == "q6_k") f = "q8_0";
  else  // llama-quantize itself stops here ("Unsupported tensor size encountered")
    throw Error("llama-quantize cannot store rows of " + std::to_string(ne0) + " elements as " + t);
  return ne0 % ggml_block(f).block == 0 ? f : "f16";
}

}  // namespace

GgmlBlock ggml_block(const std::string& type) {
  for (const GgmlBlock& b : kBlocks)
    if (b.name == type) return b;
  throw Error("unknown ggml type '" + type + "'");
}

uint64_t ggml_tensor_bytes(const std::string& type, int64_t row, int64_t elems) {
  const GgmlBlock b = ggml_block(type);
  if (row <= 0 || elems < 0 || elems % row != 0) throw Error("ggml tensor: bad shape for " + type);
  if (row % b.block != 0)
    throw Error("ggml tensor: rows of " + std::to_string(row) + " elements are not a multiple of the " + type +
                " block (" + std::to_string(b.block) + ")");
  return uint64_t(elems / b.block) * uint64_t(b.block_bytes);
}

std::string gguf_weight_type(const ModelConfig& cfg, const std::string& ft, const std::string& name, int64_t ne0,
                             int64_t layer, bool has_output) {
  std::string t = default_type(ft);
  if (t == "f16") return t;  // not a quantized file type: llama_tensor_get_type is not called
  const int64_t n = cfg.num_layers;
  const bool is_output = name == "output.weight" || (!has_output && name == "token_embd.weight");
  if (is_output) {
    if (ne0 % kQK_K != 0) t = "q8_0";
    else if (t != "q8_0") t = "q6_k";
  } else if (name.find("attn_v.weight") != std::string::npos) {
    if (ft == "q4_k_m" && use_more_bits(layer, n)) t = "q6_k";
    if (is_70b_class(cfg) && t == "q4_k") t = "q5_k";
  } else if (name.find("ffn_down") != std::string::npos) {
    if (ft == "q4_k_m" && use_more_bits(layer, n)) t = "q6_k";
  }
  // token_embd with a separate output, attn_q/k/output, ffn_gate/up: no rule for these file types.
  return fallback(t, ne0);
}

std::vector<GgufTensorPlan> gguf_tensor_plan(const ModelConfig& c, const std::string& ft) {
  c.validate("GGUF tensor plan");
  default_type(ft);  // reject unknown file types up front
  const bool has_output = !c.tie_word_embeddings;
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size, V = c.vocab_size;
  std::vector<GgufTensorPlan> out;
  auto weight = [&](const std::string& name, int64_t ne0, int64_t ne1, int64_t layer) {
    out.push_back({name, {ne0, ne1}, gguf_weight_type(c, ft, name, ne0, layer, has_output)});
  };
  auto vec = [&](const std::string& name, int64_t ne0) { out.push_back({name, {ne0}, "f32"}); };
  weight("token_embd.weight", h, V, -1);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vec(p + "attn_norm.weight", h);
    weight(p + "attn_q.weight", h, qd, l);
    weight(p + "attn_k.weight", h, kvd, l);
    weight(p + "attn_v.weight", h, kvd, l);
    if (c.attention_bias) {
      vec(p + "attn_q.bias", qd);
      vec(p + "attn_k.bias", kvd);
      vec(p + "attn_v.bias", kvd);
    }
    weight(p + "attn_output.weight", qd, h, l);
    vec(p + "ffn_norm.weight", h);
    weight(p + "ffn_gate.weight", h, ff, l);
    weight(p + "ffn_up.weight", h, ff, l);
    weight(p + "ffn_down.weight", ff, h, l);
  }
  vec("output_norm.weight", h);
  if (has_output) weight("output.weight", h, V, -1);
  return out;
}

}  // namespace qbench
