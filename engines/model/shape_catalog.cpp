#include "engines/model/shape_catalog.h"

#include "engines/core/error.h"

namespace qbench {

namespace {

struct Shape {
  const char* name;
  bool qwen;
  int64_t hidden, inter, layers, heads, kv_heads, vocab, max_pos;
  bool tied;
};

// From the models' published config.json files.
constexpr Shape kShapes[] = {
    {"tiny", true, 256, 768, 4, 4, 2, 151936, 4096, true},
    {"qwen2.5-0.5b", true, 896, 4864, 24, 14, 2, 151936, 32768, true},
    {"qwen2.5-1.5b", true, 1536, 8960, 28, 12, 2, 151936, 32768, true},
    {"qwen2.5-3b", true, 2048, 11008, 36, 16, 2, 151936, 32768, true},
    {"qwen2.5-7b", true, 3584, 18944, 28, 28, 4, 152064, 32768, false},
    {"qwen2.5-14b", true, 5120, 13824, 48, 40, 8, 152064, 32768, false},
    {"qwen2.5-32b", true, 5120, 27648, 64, 40, 8, 152064, 32768, false},
    {"qwen2.5-72b", true, 8192, 29568, 80, 64, 8, 152064, 32768, false},
    {"llama-3-8b", false, 4096, 14336, 32, 32, 8, 128256, 8192, false},
    {"llama-3-70b", false, 8192, 28672, 80, 64, 8, 128256, 8192, false},
};

}  // namespace

ModelConfig shape_config(const std::string& name) {
  for (const Shape& s : kShapes) {
    if (name != s.name) continue;
    ModelConfig c;
    c.architecture = s.qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
    c.model_type = s.qwen ? "qwen2" : "llama";
    c.hidden_size = s.hidden;
    c.intermediate_size = s.inter;
    c.num_layers = s.layers;
    c.num_heads = s.heads;
    c.num_kv_heads = s.kv_heads;
    c.head_dim = s.hidden / s.heads;
    c.vocab_size = s.vocab;
    c.max_position_embeddings = s.max_pos;
    c.tie_word_embeddings = s.tied;
    c.attention_bias = s.qwen;
    c.rope_theta = s.qwen ? 1000000.0 : 500000.0;
    c.rms_norm_eps = s.qwen ? 1e-6 : 1e-5;
    c.bos_token_id = s.qwen ? 151643 : 128000;
    c.eos_token_id = s.qwen ? 151645 : 128009;
    return c;
  }
  std::string list;
  for (auto& n : shape_names()) list += (list.empty() ? "" : ", ") + n;
  throw Error("unknown model shape '" + name + "' (known: " + list + ")");
}

std::vector<std::string> shape_names() {
  std::vector<std::string> out;
  for (const Shape& s : kShapes) out.push_back(s.name);
  return out;
}

}  // namespace qbench
