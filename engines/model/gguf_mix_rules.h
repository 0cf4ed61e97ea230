#pragma once
// Which ggml type llama-quantize gives each tensor of a Qwen2/Llama model for
// a file type (Q8_0, Q5_K_S, Q4_K_M; F16 for completeness): the per-tensor
// rules of llama.cpp's llama_tensor_get_type (src/llama-quant.cpp), including
// the fallback to legacy 32-element types when a row is not a multiple of 256.
// No importance matrix, no user overrides: what a plain `llama-quantize IN OUT TYPE` writes.
#include <cstdint>
#include <string>
#include <vector>

#include "engines/model/model_config.h"

namespace qbench {

// Storage of one ggml type: elements per block and bytes per block.
struct GgmlBlock {
  std::string name;  // "q4_k", lower case as llama.cpp prints it
  int64_t block;
  int64_t block_bytes;
};
// Throws qbench::Error for a type this table does not know.
GgmlBlock ggml_block(const std::string& type);
// Bytes of a tensor of `elems` elements whose rows have `row` elements; throws when row is not a multiple of the block.
uint64_t ggml_tensor_bytes(const std::string& type, int64_t row, int64_t elems);

// One tensor of a GGUF file as convert_hf_to_gguf + llama-quantize write it.
struct GgufTensorPlan {
  std::string name;            // "blk.3.ffn_down.weight"
  std::vector<int64_t> dims;   // ne0 first (ne0 = row length = input features)
  std::string type;            // "q6_k"
};

// File types: "f16", "q8_0", "q5_k_s", "q4_k_m". Tensors in the order the converter writes them.
std::vector<GgufTensorPlan> gguf_tensor_plan(const ModelConfig& cfg, const std::string& file_type);

// The type llama-quantize picks for a 2-D weight (exposed for tests).
// layer/n_layers: block index and count (-1 for token_embd/output); has_output: the file has output.weight.
std::string gguf_weight_type(const ModelConfig& cfg, const std::string& file_type, const std::string& name, int64_t ne0,
                             int64_t layer, bool has_output);

}  // namespace qbench
