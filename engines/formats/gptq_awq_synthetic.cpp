#include "engines/formats/gptq_awq_synthetic.h"
#include "engines/formats/hf_side_files.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/formats/safetensors_writer.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t name_seed(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Every element from a counter-based hash, so threads never change the result.
template <class F>
void fill_parallel(uint64_t n, F&& f) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < int64_t(n); ++i) f(uint64_t(i));
}

}  // namespace

uint64_t write_synthetic_int4_checkpoint(const ModelConfig& c, Int4FileFormat format, const SyntheticInt4Options& opt) {
  c.validate("synthetic shape");
  const bool gptq = format == Int4FileFormat::Gptq;
  std::vector<TensorToWrite> ts;
  // Dense F16: uniform with the given mean and standard deviation.
  auto dense = [&](const std::string& name, std::vector<int64_t> shape, float mean, float std) {
    const uint64_t s = name_seed(name, opt.seed);
    ts.push_back({name, DType::F16, std::move(shape), [=](uint8_t* d, uint64_t nb) {
                    auto* h = reinterpret_cast<uint16_t*>(d);
                    const float a = std * 1.7320508f;
                    fill_parallel(nb / 2, [&](uint64_t i) {
                      const float u = float(mix(s + i) >> 40) * (1.f / 16777216.f);  // [0, 1)
                      h[i] = f32_to_f16(mean + a * (2.f * u - 1.f));
                    });
                  }});
  };
  // Codes uniform over 0..15 around zero 8 have std ≈ 4.6: scale so that W has std ≈ 0.02.
  const uint16_t scale_h = f32_to_f16(0.02f / 4.6f);
  auto linear = [&](const std::string& p, int64_t in, int64_t out) {
    if (out % 8 || (gptq && in % 8)) throw Error("synthetic int4: layer '" + p + "' has dimensions not divisible by 8");
    const int64_t gs = opt.group_size <= 0 ? in : opt.group_size, groups = (in + gs - 1) / gs;
    const uint64_t s = name_seed(p, opt.seed);
    auto words = [s](uint8_t* d, uint64_t nb) {
      auto* w = reinterpret_cast<uint32_t*>(d);
      fill_parallel(nb / 4, [&](uint64_t i) { w[i] = uint32_t(mix(s + i)); });
    };
    ts.push_back({p + ".qweight", DType::I32, gptq ? std::vector<int64_t>{in / 8, out} : std::vector<int64_t>{in, out / 8}, words});
    // Zero point 8 everywhere: GPTQ classic stores 8 − 1 = 7 per nibble, AWQ stores 8.
    const uint32_t zw = gptq ? 0x77777777u : 0x88888888u;
    ts.push_back({p + ".qzeros", DType::I32, {groups, out / 8}, [zw](uint8_t* d, uint64_t nb) {
                    auto* w = reinterpret_cast<uint32_t*>(d);
                    for (uint64_t i = 0; i < nb / 4; ++i) w[i] = zw;
                  }});
    ts.push_back({p + ".scales", DType::F16, {groups, out}, [scale_h](uint8_t* d, uint64_t nb) {
                    auto* h = reinterpret_cast<uint16_t*>(d);
                    for (uint64_t i = 0; i < nb / 2; ++i) h[i] = scale_h;
                  }});
    if (gptq)
      ts.push_back({p + ".g_idx", DType::I32, {in}, [gs](uint8_t* d, uint64_t nb) {
                      auto* g = reinterpret_cast<int32_t*>(d);
                      for (uint64_t i = 0; i < nb / 4; ++i) g[i] = int32_t(int64_t(i) / gs);
                    }});
  };
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim, ff = c.intermediate_size;
  dense("model.embed_tokens.weight", {c.vocab_size, h}, 0.f, 0.02f);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    dense(p + "input_layernorm.weight", {h}, 1.f, 0.1f);
    dense(p + "post_attention_layernorm.weight", {h}, 1.f, 0.1f);
    linear(p + "self_attn.q_proj", h, qd);
    linear(p + "self_attn.k_proj", h, kvd);
    linear(p + "self_attn.v_proj", h, kvd);
    if (c.attention_bias) {
      dense(p + "self_attn.q_proj.bias", {qd}, 0.f, 0.02f);
      dense(p + "self_attn.k_proj.bias", {kvd}, 0.f, 0.02f);
      dense(p + "self_attn.v_proj.bias", {kvd}, 0.f, 0.02f);
    }
    linear(p + "self_attn.o_proj", qd, h);
    linear(p + "mlp.gate_proj", h, ff);
    linear(p + "mlp.up_proj", h, ff);
    linear(p + "mlp.down_proj", ff, h);
  }
  dense("model.norm.weight", {h}, 1.f, 0.1f);
  if (!c.tie_word_embeddings) dense("lm_head.weight", {c.vocab_size, h}, 0.f, 0.02f);

  const fs::path dir(opt.out_dir);
  fs::create_directories(dir);
  for (auto& e : fs::directory_iterator(dir)) {  // one model per directory
    const std::string n = e.path().filename().string();
    if (n.rfind("model", 0) == 0 && (n.ends_with(".safetensors") || n == "model.safetensors.index.json")) fs::remove(e.path());
  }
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  write_safetensors_checkpoint(dir.string(), ts, meta, opt.max_shard_bytes);
  nlohmann::ordered_json qc;
  if (gptq) {
    qc = {{"bits", 4}, {"group_size", opt.group_size}, {"damp_percent", 0.01}, {"desc_act", false}, {"static_groups", false},
          {"sym", true}, {"true_sequential", true}, {"model_name_or_path", nullptr}, {"model_file_base_name", "model"},
          {"quant_method", "gptq"}, {"checkpoint_format", "gptq"}};
    write_text_file_atomic((dir / "quantize_config.json").string(), qc.dump(2) + "\n");
  } else {
    qc = {{"quant_method", "awq"}, {"zero_point", true}, {"group_size", opt.group_size}, {"bits", 4}, {"version", "gemm"},
          {"modules_to_not_convert", nullptr}};
  }
  nlohmann::ordered_json cfg = nlohmann::ordered_json::parse(hf_config_json(c));
  cfg["quantization_config"] = qc;
  write_hf_side_files(dir.string(), cfg.dump(2) + "\n", c, opt.tokenizer_json);
  uint64_t bytes = 0;
  for (auto& t : ts) bytes += t.nbytes();
  return bytes;
}

}  // namespace qbench
