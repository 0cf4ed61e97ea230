#pragma once
// llama-quantize's per-tensor type choice (llama_tensor_get_type) for the
// mixes qbench writes: Q8_0, Q4_K_M and Q5_K_S, without an importance matrix.
#include <cstdint>
#include <string>

#include "engines/quant/ggml_type.h"

namespace qbench::quant {

enum class GgufMix { Q8_0, Q4_K_M, Q5_K_S };

GgufMix parse_mix(const std::string& name);  // "q8_0", "q4_k_m", "q5_k_s"; throws otherwise
const char* mix_name(GgufMix m);
uint32_t mix_file_type(GgufMix m);  // general.file_type (LLAMA_FTYPE_MOSTLY_*)

// Walks the tensors of one model in file order and answers each one's type,
// counting attn_v / ffn_down tensors as llama-quantize does.
class MixPlanner {
 public:
  MixPlanner(GgufMix mix, int64_t n_layers, bool has_output);
  // name: GGUF tensor name; n_dims and ne0 (row length) of the tensor.
  GgmlType type_for(const std::string& name, int n_dims, int64_t ne0);

 private:
  GgufMix mix_;
  int64_t n_layers_;
  bool has_output_;
  int64_t i_attn_v_ = 0, i_ffn_down_ = 0;
};

}  // namespace qbench::quant
