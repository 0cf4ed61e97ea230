#pragma once
// One function per format family, each returning its backend entries. The
// table in registry.cpp lists them; adding a format adds one line there.
#include <vector>

#include "engines/registry/registry.h"

namespace qbench {

std::vector<BackendSpec> hf_dense_backends();  // fp16, bf16 (HF safetensors)
std::vector<BackendSpec> gptq_awq_backends();  // gptq-int4, awq-int4
std::vector<BackendSpec> gguf_backends();       // gguf, gguf-q4_k_m, gguf-q5_k_s, gguf-q8_0

}  // namespace qbench
