#include "engines/model/memory_model.h"

#include "engines/core/error.h"
#include "engines/model/gguf_mix_rules.h"

namespace qbench {

namespace {

constexpr int64_t kGroup = 128;  // GPTQ/AWQ group size of the backends qbench names *-int4

uint64_t elem_bytes(const std::string& storage) {
  if (storage == "f32" || storage == "i32") return 4;
  if (storage == "f16" || storage == "bf16") return 2;
  throw Error("internal: no element size for " + storage);
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// A plainly stored tensor (no blocks). 1-D tensors (norms, biases) live in the engine as f32.
TensorBytes plain(const std::string& name, std::vector<int64_t> shape, const std::string& storage) {
  TensorBytes t{name, std::move(shape), storage, 0, 0};
  const uint64_t n = uint64_t(numel(t.shape));
  t.bytes = n * elem_bytes(storage);
  t.resident_bytes = t.shape.size() == 1 ? n * 4 : t.bytes;
  return t;
}

// The shapes every HF-named backend shares: [out, in] per projection.
struct Proj {
  std::string name;  // "self_attn.q_proj"
  int64_t out, in;
  bool bias;
};

std::vector<Proj> projections(const ModelConfig& c) {
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  const bool b = c.attention_bias;
  return {{"self_attn.q_proj", qd, h, b},    {"self_attn.k_proj", kvd, h, b},   {"self_attn.v_proj", kvd, h, b},
          {"self_attn.o_proj", h, qd, false}, {"mlp.gate_proj", ff, h, false}, {"mlp.up_proj", ff, h, false},
          {"mlp.down_proj", h, ff, false}};
}

// Hugging Face layout (fp16 / bf16 safetensors, and the unquantized parts of GPTQ/AWQ).
// `linear` adds the tensors of one projection in the backend's own storage.
template <class LinearFn>
std::vector<TensorBytes> hf_layout(const ModelConfig& c, const std::string& dense, LinearFn linear) {
  std::vector<TensorBytes> out;
  const int64_t h = c.hidden_size;
  out.push_back(plain("model.embed_tokens.weight", {c.vocab_size, h}, dense));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back(plain(p + "input_layernorm.weight", {h}, dense));
    for (const Proj& pr : projections(c)) {
      linear(out, p + pr.name, pr.out, pr.in);
      if (pr.bias) out.push_back(plain(p + pr.name + ".bias", {pr.out}, dense));
    }
    out.push_back(plain(p + "post_attention_layernorm.weight", {h}, dense));
  }
  out.push_back(plain("model.norm.weight", {h}, dense));
  if (!c.tie_word_embeddings) out.push_back(plain("lm_head.weight", {c.vocab_size, h}, dense));
  return out;
}

void check_packable(const std::string& backend, const std::string& name, int64_t out, int64_t in) {
  if (out % 8 != 0 || in % 8 != 0)
    throw Error(backend + ": " + name + " is [" + std::to_string(out) + ", " + std::to_string(in) +
                "]; 4-bit packing needs both dimensions to be multiples of 8");
}

// AutoGPTQ (classic "gptq" checkpoint format): qweight [in/8, out], qzeros
// [groups, out/8], scales [groups, out] f16, g_idx [in] i32.
void gptq_linear(std::vector<TensorBytes>& v, const std::string& name, int64_t out, int64_t in) {
  check_packable("gptq-int4", name, out, in);
  const int64_t g = (in + kGroup - 1) / kGroup;
  v.push_back(plain(name + ".qweight", {in / 8, out}, "i32"));
  v.push_back(plain(name + ".qzeros", {g, out / 8}, "i32"));
  v.push_back(plain(name + ".scales", {g, out}, "f16"));
  v.push_back(plain(name + ".g_idx", {in}, "i32"));
  v.back().resident_bytes = v.back().bytes;  // an index table, kept as i32
}

// AutoAWQ GEMM: qweight [in, out/8], qzeros [groups, out/8], scales [groups, out] f16.
void awq_linear(std::vector<TensorBytes>& v, const std::string& name, int64_t out, int64_t in) {
  check_packable("awq-int4", name, out, in);
  if (in % kGroup != 0)
    throw Error("awq-int4: " + name + " has " + std::to_string(in) + " input features, not a multiple of the group (128)");
  const int64_t g = in / kGroup;
  v.push_back(plain(name + ".qweight", {in, out / 8}, "i32"));
  v.push_back(plain(name + ".qzeros", {g, out / 8}, "i32"));
  v.push_back(plain(name + ".scales", {g, out}, "f16"));
}

std::vector<TensorBytes> gguf_layout(const ModelConfig& c, const std::string& file_type) {
  std::vector<TensorBytes> out;
  for (const GgufTensorPlan& p : gguf_tensor_plan(c, file_type)) {
    TensorBytes t{p.name, p.dims, p.type, 0, 0};
    t.bytes = ggml_tensor_bytes(p.type, p.dims[0], numel(p.dims));
    t.resident_bytes = t.bytes;  // 1-D GGUF tensors are f32 already
    out.push_back(std::move(t));
  }
  return out;
}

// validate() bounds hidden/intermediate/vocab/layers; bound the head
// dimensions too, so every product below stays far inside 64 bits.
void check(const ModelConfig& c) {
  c.validate("memory model");
  if (c.num_heads > (1 << 16) || c.head_dim > (1 << 16) || c.num_kv_heads > c.num_heads)
    throw Error("memory model: implausible attention shape (heads " + std::to_string(c.num_heads) + ", kv heads " +
                std::to_string(c.num_kv_heads) + ", head_dim " + std::to_string(c.head_dim) + ")");
}

}  // namespace

uint64_t WeightBreakdown::total() const {
  uint64_t n = 0;
  for (auto& t : tensors) n += t.bytes;
  return n;
}

uint64_t WeightBreakdown::resident_total() const {
  uint64_t n = 0;
  for (auto& t : tensors) n += t.resident_bytes;
  return n;
}

std::vector<std::string> memory_model_backends() {
  return {"fp16", "bf16", "gguf-f16", "gguf-q8_0", "gguf-q5_k_s", "gguf-q4_k_m", "gptq-int4", "awq-int4"};
}

WeightBreakdown weight_breakdown(const ModelConfig& cfg, const std::string& backend) {
  check(cfg);
  WeightBreakdown w;
  w.backend = backend;
  auto dense = [](const std::string& dt) {
    return [dt](std::vector<TensorBytes>& v, const std::string& name, int64_t out, int64_t in) {
      v.push_back(plain(name + ".weight", {out, in}, dt));
    };
  };
  if (backend == "fp16") w.tensors = hf_layout(cfg, "f16", dense("f16"));
  else if (backend == "bf16") w.tensors = hf_layout(cfg, "bf16", dense("bf16"));
  else if (backend == "gptq-int4") w.tensors = hf_layout(cfg, "f16", gptq_linear);
  else if (backend == "awq-int4") w.tensors = hf_layout(cfg, "f16", awq_linear);
  else if (backend.rfind("gguf-", 0) == 0) w.tensors = gguf_layout(cfg, backend.substr(5));
  else {
    std::string list;
    for (auto& b : memory_model_backends()) list += (list.empty() ? "" : ", ") + b;
    throw Error("memory model: unknown backend '" + backend + "' (known: " + list + ")");
  }
  return w;
}

uint64_t weight_bytes(const ModelConfig& cfg, const std::string& backend) { return weight_breakdown(cfg, backend).total(); }

std::vector<std::string> kv_types() { return {"f32", "f16", "bf16", "q8_0", "q4_0"}; }

uint64_t kv_bytes_per_token(const ModelConfig& c, const std::string& kv_type) {
  check(c);
  const int64_t row = c.num_kv_heads * c.head_dim;  // one token's K (or V) of one layer
  uint64_t row_bytes = 0;
  if (kv_type == "f32" || kv_type == "f16" || kv_type == "bf16") row_bytes = uint64_t(row) * elem_bytes(kv_type);
  else if (kv_type == "q8_0" || kv_type == "q4_0") row_bytes = ggml_tensor_bytes(kv_type, row, row);
  else throw Error("memory model: unknown KV cache type '" + kv_type + "' (f32, f16, bf16, q8_0, q4_0)");
  return uint64_t(c.num_layers) * 2 * row_bytes;
}

uint64_t activation_bytes(const ModelConfig& c, int64_t rows) {
  check(c);
  if (rows < 0) throw Error("memory model: negative row count");
  const uint64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                 ff = c.intermediate_size;
  const uint64_t floats_per_row = 3 * h + 2 * qd + 2 * kvd + 2 * ff;  // x, xn, tmp; q, att; k, v; gate, up
  return uint64_t(rows) * (floats_per_row * 4 + 4);                 // + one i32 position per row
}

uint64_t logits_bytes(const ModelConfig& c, int64_t rows) { return uint64_t(rows) * uint64_t(c.vocab_size) * 4; }

}  // namespace qbench
