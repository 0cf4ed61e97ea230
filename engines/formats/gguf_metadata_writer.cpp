#include "engines/formats/gguf_metadata_writer.h"

#include <map>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/formats/hf_checkpoint.h"

namespace qbench {

using nlohmann::json;

void write_gguf_model_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name, uint32_t file_type) {
  const std::string a = c.model_type == "llama" ? "llama" : "qwen2";
  w.set_str("general.architecture", a);
  w.set_str("general.name", name);
  w.set_u32(a + ".block_count", uint32_t(c.num_layers));
  w.set_u32(a + ".context_length", uint32_t(c.max_position_embeddings));
  w.set_u32(a + ".embedding_length", uint32_t(c.hidden_size));
  w.set_u32(a + ".feed_forward_length", uint32_t(c.intermediate_size));
  w.set_u32(a + ".attention.head_count", uint32_t(c.num_heads));
  w.set_u32(a + ".attention.head_count_kv", uint32_t(c.num_kv_heads));
  if (c.head_dim * c.num_heads != c.hidden_size) {
    w.set_u32(a + ".attention.key_length", uint32_t(c.head_dim));
    w.set_u32(a + ".attention.value_length", uint32_t(c.head_dim));
  }
  w.set_f32(a + ".rope.freq_base", float(c.rope_theta));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", float(c.rms_norm_eps));
  w.set_u32("general.file_type", file_type);
  w.set_u32("general.quantization_version", 2);
}

namespace {

// An added token's content from tokenizer_config.json: a string or {"content": ...}.
std::string token_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

}  // namespace

void write_gguf_tokenizer_metadata(GgufWriter& w, const ModelConfig& c, const std::string& tokenizer_json,
                                   const std::string& tokenizer_config) {
  const json t = json::parse(read_text_file(tokenizer_json, 256ull << 20), nullptr, false);
  if (t.is_discarded() || !t.is_object() || !t.contains("model") || !t["model"].contains("vocab"))
    throw Error(tokenizer_json + ": not a tokenizer.json with model.vocab");
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;  // id -> (token, ggml token type)
  for (auto& [tok, id] : t["model"]["vocab"].items()) {
    if (!id.is_number_integer()) throw Error(tokenizer_json + ": vocab id of '" + tok + "' is not an integer");
    by_id[id.get<int64_t>()] = {tok, 1};  // NORMAL
  }
  std::map<std::string, int64_t> added;
  if (t.contains("added_tokens") && t["added_tokens"].is_array())
    for (auto& a : t["added_tokens"]) {
      const int64_t id = a.value("id", int64_t(-1));
      const std::string content = a.value("content", std::string());
      if (id < 0) continue;
      by_id[id] = {content, a.value("special", false) ? 3 : 4};  // CONTROL or USER_DEFINED
      added[content] = id;
    }
  const int64_t n = std::max<int64_t>(c.vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  if (n > (int64_t(1) << 24)) throw Error(tokenizer_json + ": vocabulary too large");
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(size_t(n), 5);  // UNUSED unless a token has the id
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
    } else {
      tokens[size_t(i)] = it->second.first;
      types[size_t(i)] = it->second.second;
    }
  }
  std::vector<std::string> merges;
  if (t["model"].contains("merges") && t["model"]["merges"].is_array())
    for (auto& m : t["model"]["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else throw Error(tokenizer_json + ": a merge is neither \"a b\" nor [a, b]");
    }
  w.set_str("tokenizer.ggml.model", "gpt2");
  w.set_str("tokenizer.ggml.pre", c.model_type == "llama" ? "llama-bpe" : "qwen2");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", merges);
  // Special ids: tokenizer_config.json names them; config.json's ids fill the gaps.
  int64_t bos = c.bos_token_id, eos = c.eos_token_id, pad = -1;
  bool add_bos = false;
  std::string chat_template;
  if (!tokenizer_config.empty()) {
    const json tc = json::parse(read_text_file(tokenizer_config), nullptr, false);
    if (tc.is_discarded() || !tc.is_object()) throw Error(tokenizer_config + ": not a JSON object");
    auto id_of = [&](const char* key, int64_t fallback) {
      if (!tc.contains(key)) return fallback;
      const std::string s = token_content(tc[key]);
      auto it = added.find(s);
      return it == added.end() ? fallback : it->second;
    };
    eos = id_of("eos_token", eos);
    pad = id_of("pad_token", pad);
    bos = id_of("bos_token", bos);
    if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) add_bos = tc["add_bos_token"].get<bool>();
    if (tc.contains("chat_template") && tc["chat_template"].is_string()) chat_template = tc["chat_template"].get<std::string>();
  }
  if (bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(bos));
  if (eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(eos));
  if (pad >= 0) w.set_u32("tokenizer.ggml.padding_token_id", uint32_t(pad));
  w.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  if (!chat_template.empty()) w.set_str("tokenizer.chat_template", chat_template);
}

}  // namespace qbench
