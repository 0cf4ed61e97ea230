#include "engines/formats/synthetic_checkpoint.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/formats/hf_side_files.h"
#include "engines/formats/safetensors_writer.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// F16 values mean + std * N(0,1); chunks have their own streams so threads do not change the result.
void fill_normal_f16(uint16_t* dst, uint64_t n, uint64_t seed, float mean, float std) {
  constexpr uint64_t kChunk = 1 << 16;
  const int64_t chunks = int64_t((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    uint64_t s = seed ^ (uint64_t(c) * 0xd1b54a32d192ed03ull);
    const uint64_t end = std::min<uint64_t>(n, (uint64_t(c) + 1) * kChunk);
    for (uint64_t i = uint64_t(c) * kChunk; i < end; i += 2) {
      // Box-Muller on two 53-bit uniforms.
      const double u1 = (double(splitmix64(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
      const double u2 = double(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
      const double r = std::sqrt(-2.0 * std::log(u1)), t = 6.283185307179586 * u2;
      dst[i] = f32_to_f16(mean + std * float(r * std::cos(t)));
      if (i + 1 < end) dst[i + 1] = f32_to_f16(mean + std * float(r * std::sin(t)));
    }
  }
}

}  // namespace

uint64_t write_synthetic_checkpoint(const ModelConfig& c, const SyntheticOptions& opt) {
  c.validate("synthetic shape");
  std::vector<TensorToWrite> ts;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float std) {
    const uint64_t seed = hash_name(name, opt.seed);
    ts.push_back({name, DType::F16, std::move(shape), [=](uint8_t* dst, uint64_t nbytes) {
                    fill_normal_f16(reinterpret_cast<uint16_t*>(dst), nbytes / 2, seed, mean, std);
                  }});
  };
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  const float ws = opt.weight_std;
  add("model.embed_tokens.weight", {c.vocab_size, h}, 0.f, ws);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {h}, 1.f, 0.1f);
    add(p + "self_attn.q_proj.weight", {qd, h}, 0.f, ws);
    add(p + "self_attn.k_proj.weight", {kvd, h}, 0.f, ws);
    add(p + "self_attn.v_proj.weight", {kvd, h}, 0.f, ws);
    if (c.attention_bias) {
      add(p + "self_attn.q_proj.bias", {qd}, 0.f, ws);
      add(p + "self_attn.k_proj.bias", {kvd}, 0.f, ws);
      add(p + "self_attn.v_proj.bias", {kvd}, 0.f, ws);
    }
    add(p + "self_attn.o_proj.weight", {h, qd}, 0.f, ws);
    add(p + "post_attention_layernorm.weight", {h}, 1.f, 0.1f);
    add(p + "mlp.gate_proj.weight", {ff, h}, 0.f, ws);
    add(p + "mlp.up_proj.weight", {ff, h}, 0.f, ws);
    add(p + "mlp.down_proj.weight", {h, ff}, 0.f, ws);
  }
  add("model.norm.weight", {h}, 1.f, 0.1f);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, h}, 0.f, ws);

  const fs::path dir(opt.out_dir);
  fs::create_directories(dir);
  // Remove a previous checkpoint's shards so the directory holds exactly one model.
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("model", 0) == 0 && (n.ends_with(".safetensors") || n == "model.safetensors.index.json")) fs::remove(e.path());
  }
  write_safetensors_checkpoint(dir.string(), ts, {{"format", "pt"}}, opt.max_shard_bytes);
  write_hf_side_files(dir.string(), hf_config_json(c), c, opt.tokenizer_json);
  uint64_t bytes = 0;
  for (auto& t : ts) bytes += t.nbytes();
  return bytes;
}

}  // namespace qbench
