#pragma once
// The metadata llama.cpp's converter writes for a Qwen2/Llama model: the
// architecture keys and, from an HF tokenizer.json (+ tokenizer_config.json),
// the tokenizer.ggml.* keys, so that the written file runs with no other file.
#include <string>

#include "engines/formats/gguf_writer.h"
#include "engines/model/model_config.h"

namespace qbench {

void write_gguf_model_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name, uint32_t file_type);
// tokenizer_config may be "" (no chat template, eos from the config). Throws naming the file on bad input.
void write_gguf_tokenizer_metadata(GgufWriter& w, const ModelConfig& c, const std::string& tokenizer_json,
                                   const std::string& tokenizer_config);

}  // namespace qbench
