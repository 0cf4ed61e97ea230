// Dense HF checkpoints (F16/BF16/F32 safetensors): weights used in place from the mapping.
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/hf_weights.h"
#include "engines/registry/backends.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

// The checkpoint's declared dtype ("float16", "bfloat16", ...), or "" when the config does not say.
std::string declared_dtype(const std::string& config_text) {
  auto j = nlohmann::json::parse(config_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "";
  for (const char* k : {"torch_dtype", "dtype"})
    if (j.contains(k) && j[k].is_string()) return j[k].get<std::string>();
  return "";
}

bool is_quantized(const std::string& config_text) {
  auto j = nlohmann::json::parse(config_text, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("quantization_config");
}

bool is_hf_dense_dir(const std::string& path, const char* want_dtype) {
  std::error_code ec;
  const fs::path cfg = fs::path(path) / "config.json";
  if (!fs::is_directory(path, ec) || !fs::exists(cfg, ec)) return false;
  if (fs::exists(fs::path(path) / "quantize_config.json", ec)) return false;
  std::string text;
  try {
    text = read_text_file(cfg.string());
  } catch (const Error&) {
    return false;
  }
  if (is_quantized(text)) return false;
  const std::string dt = declared_dtype(text);
  if (std::string(want_dtype) == "bfloat16") return dt == "bfloat16";
  return dt != "bfloat16";  // fp16 takes float16, float32 and unspecified checkpoints
}

LoadedModel load_hf_dense(const std::string& path, const std::string& backend) {
  auto ckpt = std::make_shared<HfCheckpoint>(path);
  LoadedModel m;
  m.config = ckpt->config();
  m.weights = build_hf_weights(*ckpt, m.config, [&](const std::string& prefix, int64_t in, int64_t out) {
    return dense_linear_from(*ckpt, prefix, in, out);
  });
  m.weights.keep_alive.push_back(ckpt);
  const std::string tok = find_tokenizer_json(path);
  if (!tok.empty()) m.tokenizer = Tokenizer::from_hf_json_file(tok);
  m.info.path = path;
  m.info.backend = backend;
  m.info.format = "hf-safetensors";
  m.info.file_bytes = ckpt->file_bytes();
  m.info.weight_dtype = m.weights.embed->kind();
  m.info.details = {{"shards", ckpt->shards().size()}, {"declared_dtype", declared_dtype(ckpt->config_text())}};
  return m;
}

}  // namespace

std::vector<BackendSpec> hf_dense_backends() {
  return {
      {"fp16", "HF safetensors checkpoint, FP16 (or FP32) weights kept as stored, FP32 accumulation",
       [](const std::string& p) { return is_hf_dense_dir(p, "float16"); },
       [](const std::string& p) { return load_hf_dense(p, "fp16"); }},
      {"bf16", "HF safetensors checkpoint, BF16 weights kept as stored, FP32 accumulation",
       [](const std::string& p) { return is_hf_dense_dir(p, "bfloat16"); },
       [](const std::string& p) { return load_hf_dense(p, "bf16"); }},
  };
}

}  // namespace qbench
