#include "engines/formats/hf_weights.h"

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/cpu/linear_dense_cpu.h"

namespace qbench {

std::vector<float> tensor_to_f32(const TensorRef& t, const std::vector<int64_t>& shape) {
  if (t.shape != shape) {
    TensorRef want;
    want.shape = shape;
    throw Error(t.file + ": tensor '" + t.name + "' has shape " + t.shape_str() + ", expected " + want.shape_str());
  }
  std::vector<float> out(size_t(t.numel()));
  const size_t n = out.size();
  switch (t.dtype) {
    case DType::F32: {
      const float* p = static_cast<const float*>(t.data);
      for (size_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(t.data);
      for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
      break;
    }
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(t.data);
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
      break;
    }
    default:
      throw Error(t.file + ": tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected F32, F16 or BF16");
  }
  return out;
}

std::unique_ptr<Linear> dense_linear_from(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out) {
  const TensorRef& t = src.require(prefix + ".weight");
  if (t.shape != std::vector<int64_t>{out, in})
    throw Error(t.file + ": tensor '" + t.name + "' has shape " + t.shape_str() + ", expected [" + std::to_string(out) +
                ", " + std::to_string(in) + "]");
  if (t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F32)
    throw Error(t.file + ": tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected F16, BF16 or F32");
  return make_dense_linear_cpu(t.dtype, t.data, in, out);
}

ModelWeights build_hf_weights(const TensorSource& src, const ModelConfig& c, const LinearFactory& make_linear) {
  ModelWeights w;
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  w.embed = dense_linear_from(src, "model.embed_tokens", h, c.vocab_size);
  if (!c.tie_word_embeddings) {
    if (!src.find("lm_head.weight"))
      throw Error("config.json says tie_word_embeddings=false but the checkpoint has no 'lm_head.weight'");
    w.lm_head = dense_linear_from(src, "lm_head", h, c.vocab_size);
  }
  w.final_norm = tensor_to_f32(src.require("model.norm.weight"), {h});
  w.layers.resize(size_t(c.num_layers));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    LayerWeights& L = w.layers[size_t(l)];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    L.attn_norm = tensor_to_f32(src.require(p + "input_layernorm.weight"), {h});
    L.ffn_norm = tensor_to_f32(src.require(p + "post_attention_layernorm.weight"), {h});
    L.q = make_linear(p + "self_attn.q_proj", h, qd);
    L.k = make_linear(p + "self_attn.k_proj", h, kvd);
    L.v = make_linear(p + "self_attn.v_proj", h, kvd);
    L.o = make_linear(p + "self_attn.o_proj", qd, h);
    L.gate = make_linear(p + "mlp.gate_proj", h, ff);
    L.up = make_linear(p + "mlp.up_proj", h, ff);
    L.down = make_linear(p + "mlp.down_proj", ff, h);
    if (c.attention_bias) {
      L.q_bias = tensor_to_f32(src.require(p + "self_attn.q_proj.bias"), {qd});
      L.k_bias = tensor_to_f32(src.require(p + "self_attn.k_proj.bias"), {kvd});
      L.v_bias = tensor_to_f32(src.require(p + "self_attn.v_proj.bias"), {kvd});
    }
  }
  return w;
}

}  // namespace qbench
