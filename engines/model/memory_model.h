#pragma once
// How many bytes a model needs, from its config alone: weights per backend
// (exactly as each format stores them), KV cache per token (also quantized KV
// as llama.cpp stores it), and the activation workspace the transformer
// allocates. The planner builds on it; tests check it against real files and
// against the engine's own accounting.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/model/model_config.h"

namespace qbench {

// One stored tensor of a backend's files.
struct TensorBytes {
  std::string name;             // the format's own name ("blk.0.attn_v.weight", "model.layers.0.mlp.up_proj.qweight")
  std::vector<int64_t> shape;   // as the format lists it (GGUF: ne0 first; safetensors: outermost first)
  std::string storage;          // "f16", "q4_k", "i32", ...
  uint64_t bytes = 0;           // bytes in the file (GGUF: before 32-byte alignment padding)
  uint64_t resident_bytes = 0;  // bytes qbench's engine holds: 1-D norms and biases widened to f32, the rest as stored
};

struct WeightBreakdown {
  std::string backend;
  std::vector<TensorBytes> tensors;
  uint64_t total() const;           // sum of bytes: the file's tensor data
  uint64_t resident_total() const;  // sum of resident_bytes: Engine's MemCategory::Weights
  // Bytes read per decoded token: every weight once; the tied embedding
  // table is read as the LM head (one gathered row for the lookup is negligible).
  uint64_t decode_read_bytes() const { return resident_total(); }
};

// fp16, bf16, gguf-f16, gguf-q8_0, gguf-q5_k_s, gguf-q4_k_m, gptq-int4, awq-int4.
std::vector<std::string> memory_model_backends();

// Throws qbench::Error for unknown backends or shapes a format cannot store
// (e.g. a GPTQ input dimension that is not a multiple of 8).
WeightBreakdown weight_breakdown(const ModelConfig& cfg, const std::string& backend);
uint64_t weight_bytes(const ModelConfig& cfg, const std::string& backend);

// KV cache bytes per token of context (all layers, K and V). kv_type: f32, f16,
// bf16, q8_0, q4_0 (llama.cpp's block layouts along the kv_heads*head_dim row).
uint64_t kv_bytes_per_token(const ModelConfig& cfg, const std::string& kv_type);
std::vector<std::string> kv_types();

// Activation buffers of the transformer for a forward pass of `rows` tokens
// (Transformer::ensure_workspace: x, xn, q, k, v, att, gate, up, tmp in f32 and
// positions in i32). The engine keeps the largest chunk's buffers.
uint64_t activation_bytes(const ModelConfig& cfg, int64_t rows);
// Logits of `rows` tokens in f32 (held by the caller, not the engine's account).
uint64_t logits_bytes(const ModelConfig& cfg, int64_t rows);

}  // namespace qbench
