#include "engines/formats/gguf_model.h"

#include "engines/core/error.h"
#include "engines/cpu/linear_gguf_cpu.h"
#include "engines/quant/dequant_ref.h"

namespace qbench {

namespace {

int64_t get_int(const GgufFile& f, const std::string& key, int64_t fallback, bool required) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (required) throw Error(f.path() + ": missing metadata key '" + key + "'");
    return fallback;
  }
  return v->to_int(key);
}

double get_num(const GgufFile& f, const std::string& key, double fallback) {
  const GgufValue* v = f.find(key);
  return v ? v->to_double(key) : fallback;
}

std::unique_ptr<Linear> linear_from(const GgufFile& f, const std::string& name, int64_t in, int64_t out,
                                    std::vector<int32_t> row_map = {}) {
  const GgufTensor& t = f.require_tensor(name);
  if (t.dims.size() != 2 || t.dims[0] != in || t.dims[1] != out)
    throw Error(f.path() + ": tensor '" + name + "' has dims " + t.dims_str() + ", expected {" + std::to_string(in) + ", " +
                std::to_string(out) + "}");
  return make_gguf_linear_cpu(t.type, t.data, in, out, std::move(row_map));
}

std::vector<float> vector_from(const GgufFile& f, const std::string& name, int64_t n) {
  const GgufTensor& t = f.require_tensor(name);
  if (t.dims.size() != 1 || t.dims[0] != n)
    throw Error(f.path() + ": tensor '" + name + "' has dims " + t.dims_str() + ", expected {" + std::to_string(n) + "}");
  std::vector<float> out(static_cast<size_t>(n));
  quant::dequantize_row(t.type, t.data, out.data(), n);
  return out;
}

// llama.cpp's converter permutes Llama Q/K rows for its interleaved RoPE
// (per head: stored row 2j+i holds HF row i·hd/2 + j); the transformer rotates
// HF-style halves, so output o reads stored row map[o].
std::vector<int32_t> unpermute_rows(int64_t heads, int64_t head_dim) {
  std::vector<int32_t> map(static_cast<size_t>(heads * head_dim));
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < half; ++j) map[size_t(h * head_dim + i * half + j)] = int32_t(h * head_dim + 2 * j + i);
  return map;
}

}  // namespace

ModelConfig gguf_model_config(const GgufFile& f) {
  ModelConfig c;
  const std::string arch = f.require("general.architecture").to_string("general.architecture");
  if (arch == "qwen2") c.architecture = "Qwen2ForCausalLM";
  else if (arch == "llama") c.architecture = "LlamaForCausalLM";
  else throw Error(f.path() + ": general.architecture '" + arch + "' is not supported (qwen2, llama)");
  c.model_type = arch;
  const std::string p = arch + ".";
  c.num_layers = get_int(f, p + "block_count", 0, true);
  c.hidden_size = get_int(f, p + "embedding_length", 0, true);
  c.intermediate_size = get_int(f, p + "feed_forward_length", 0, true);
  c.num_heads = get_int(f, p + "attention.head_count", 0, true);
  c.num_kv_heads = get_int(f, p + "attention.head_count_kv", c.num_heads, false);
  c.max_position_embeddings = get_int(f, p + "context_length", 0, true);
  if (c.num_heads <= 0) throw Error(f.path() + ": " + p + "attention.head_count must be positive");
  c.head_dim = get_int(f, p + "attention.key_length", c.hidden_size / c.num_heads, false);
  c.rope_theta = get_num(f, p + "rope.freq_base", 10000.0);
  c.rms_norm_eps = get_num(f, p + "attention.layer_norm_rms_epsilon", 1e-6);
  const GgufTensor& emb = f.require_tensor("token_embd.weight");
  if (emb.dims.size() != 2) throw Error(f.path() + ": token_embd.weight must be 2-D, has dims " + emb.dims_str());
  c.vocab_size = emb.dims[1];
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.bos_token_id = get_int(f, "tokenizer.ggml.bos_token_id", -1, false);
  c.eos_token_id = get_int(f, "tokenizer.ggml.eos_token_id", -1, false);
  c.validate(f.path());
  return c;
}

bool gguf_has_tokenizer(const GgufFile& f) { return f.find("tokenizer.ggml.tokens") && f.find("tokenizer.ggml.model"); }

Tokenizer gguf_tokenizer(const GgufFile& f) {
  const std::string model = f.require("tokenizer.ggml.model").to_string("tokenizer.ggml.model");
  if (model != "gpt2") throw Error(f.path() + ": tokenizer.ggml.model '" + model + "' is not supported (gpt2 byte-level BPE only)");
  const auto tokens = f.require("tokenizer.ggml.tokens").to_strings("tokenizer.ggml.tokens");
  std::vector<std::string> merges;
  if (const GgufValue* m = f.find("tokenizer.ggml.merges")) merges = m->to_strings("tokenizer.ggml.merges");
  std::vector<int32_t> types(tokens.size(), 1);
  if (const GgufValue* tt = f.find("tokenizer.ggml.token_type")) {
    const auto v = tt->to_ints("tokenizer.ggml.token_type");
    if (v.size() != tokens.size())
      throw Error(f.path() + ": tokenizer.ggml.token_type has " + std::to_string(v.size()) + " entries for " +
                  std::to_string(tokens.size()) + " tokens");
    for (size_t i = 0; i < v.size(); ++i) types[i] = int32_t(v[i]);
  }
  std::string pre = "gpt2";
  if (const GgufValue* p = f.find("tokenizer.ggml.pre")) pre = p->to_string("tokenizer.ggml.pre");
  try {
    return Tokenizer::from_vocab(tokens, merges, types, pre);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(f.path() + ": tokenizer: " + e.what());
  }
}

ModelWeights gguf_model_weights(const std::shared_ptr<const GgufFile>& file, const ModelConfig& c) {
  const GgufFile& f = *file;
  ModelWeights w;
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  const bool llama = c.model_type == "llama";
  w.embed = linear_from(f, "token_embd.weight", h, c.vocab_size);
  if (!c.tie_word_embeddings) w.lm_head = linear_from(f, "output.weight", h, c.vocab_size);
  w.final_norm = vector_from(f, "output_norm.weight", h);
  w.layers.resize(static_cast<size_t>(c.num_layers));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    LayerWeights& L = w.layers[size_t(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    L.attn_norm = vector_from(f, p + "attn_norm.weight", h);
    L.ffn_norm = vector_from(f, p + "ffn_norm.weight", h);
    L.q = linear_from(f, p + "attn_q.weight", h, qd, llama ? unpermute_rows(c.num_heads, c.head_dim) : std::vector<int32_t>{});
    L.k = linear_from(f, p + "attn_k.weight", h, kvd, llama ? unpermute_rows(c.num_kv_heads, c.head_dim) : std::vector<int32_t>{});
    L.v = linear_from(f, p + "attn_v.weight", h, kvd);
    L.o = linear_from(f, p + "attn_output.weight", qd, h);
    L.gate = linear_from(f, p + "ffn_gate.weight", h, ff);
    L.up = linear_from(f, p + "ffn_up.weight", h, ff);
    L.down = linear_from(f, p + "ffn_down.weight", ff, h);
    if (c.attention_bias) {
      L.q_bias = vector_from(f, p + "attn_q.bias", qd);
      L.k_bias = vector_from(f, p + "attn_k.bias", kvd);
      L.v_bias = vector_from(f, p + "attn_v.bias", kvd);
      if (llama) throw Error(f.path() + ": Llama files with attention biases are not supported");
    }
  }
  w.keep_alive.push_back(file);
  return w;
}

std::map<std::string, int> gguf_type_counts(const GgufFile& f) {
  std::map<std::string, int> m;
  for (auto& t : f.tensors()) ++m[quant::type_name(t.type)];
  return m;
}

}  // namespace qbench
