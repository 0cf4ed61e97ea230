#pragma once
// What a GGUF file means as a model: the config from `general.architecture`
// and `<arch>.*` keys, the tokenizer from `tokenizer.ggml.*`, and the weights
// (llama.cpp tensor names) as Linears over the mapped blocks.
#include <map>
#include <memory>
#include <string>

#include "datasets/tokenizer/tokenizer.h"
#include "engines/formats/gguf_reader.h"
#include "engines/model/model_config.h"
#include "engines/model/model_weights.h"

namespace qbench {

ModelConfig gguf_model_config(const GgufFile& f);
// nullopt-like: throws when tokenizer.ggml.model is not "gpt2" or keys are inconsistent.
Tokenizer gguf_tokenizer(const GgufFile& f);
bool gguf_has_tokenizer(const GgufFile& f);
// Builds every Linear (of its tensor's type), norms and biases; `file` is kept alive by the weights.
ModelWeights gguf_model_weights(const std::shared_ptr<const GgufFile>& file, const ModelConfig& cfg);
// Tensor count per ggml type name, e.g. {"f32": 21, "q4_k": 24, "q6_k": 5}.
std::map<std::string, int> gguf_type_counts(const GgufFile& f);

}  // namespace qbench
