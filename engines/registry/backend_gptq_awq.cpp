// GPTQ (AutoGPTQ / GPTQModel) and AWQ (AutoAWQ GEMM) checkpoints: int4 codes
// repacked at load time for the CPU kernels; embeddings, norms and an untied
// LM head stay dense, used in place from the mapping.
#include <filesystem>
#include <memory>

#include "engines/core/error.h"
#include "engines/cpu/linear_int4_cpu.h"
#include "engines/formats/awq_checkpoint.h"
#include "engines/formats/gptq_checkpoint.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/hf_weights.h"
#include "engines/registry/backends.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

template <class F>
bool detects_quiet(const std::string& path, F find) {
  std::error_code ec;
  if (!fs::is_directory(path, ec) || !fs::exists(fs::path(path) / "config.json", ec)) return false;
  try {
    return find(path).has_value();
  } catch (const Error&) {
    return true;  // it is this format, but broken: loading reports why
  }
}

// The transformer adds q/k/v biases only; a stored bias elsewhere must be zero
// (some exporters write zero biases for every quantized layer).
void check_unused_bias(const TensorSource& src, const ModelConfig& cfg, const std::string& prefix, int64_t out) {
  const TensorRef* b = src.find(prefix + ".bias");
  if (!b) return;
  const bool qkv = prefix.ends_with("q_proj") || prefix.ends_with("k_proj") || prefix.ends_with("v_proj");
  if (qkv && cfg.attention_bias) return;
  for (float v : tensor_to_f32(*b, {out}))
    if (v != 0.f) throw Error(b->file + ": tensor '" + b->name + "' is a non-zero bias this architecture does not use");
}

std::string group_tag(int64_t group_size) { return group_size > 0 ? "g" + std::to_string(group_size) : "gall"; }

LoadedModel load_int4(const std::string& path, const std::string& backend) {
  auto ckpt = std::make_shared<HfCheckpoint>(path);
  LoadedModel m;
  m.config = ckpt->config();
  std::optional<GptqConfig> gptq;
  std::optional<AwqConfig> awq;
  if (backend == "gptq-int4") {
    gptq = find_gptq_config(path);
    if (!gptq) throw Error(path + ": not a GPTQ checkpoint (no quantize_config.json, no quantization_config with quant_method gptq)");
  } else {
    awq = find_awq_config(path);
    if (!awq) throw Error(path + ": not an AWQ checkpoint (no quantization_config with quant_method awq)");
  }
  const std::string kind = gptq ? "gptq-int4-" + group_tag(gptq->group_size) : "awq-int4-" + group_tag(awq->group_size);
  m.weights = build_hf_weights(*ckpt, m.config, [&](const std::string& prefix, int64_t in, int64_t out) {
    check_unused_bias(*ckpt, m.config, prefix, out);
    const quant::Int4Codes codes = gptq ? read_gptq_linear(*ckpt, prefix, in, out, *gptq) : read_awq_linear(*ckpt, prefix, in, out, *awq);
    try {
      return make_int4_linear_cpu(codes, kind);
    } catch (const Error& e) {
      throw Error("layer '" + prefix + "' of " + path + ": " + e.what());
    }
  });
  m.weights.keep_alive.push_back(ckpt);  // embeddings and norms are used in place
  const std::string tok = find_tokenizer_json(path);
  if (!tok.empty()) m.tokenizer = Tokenizer::from_hf_json_file(tok);
  m.info.path = path;
  m.info.backend = backend;
  m.info.format = gptq ? "gptq" : "awq";
  m.info.file_bytes = ckpt->file_bytes();
  m.info.weight_dtype = kind + "+" + m.weights.embed->kind();
  m.info.details = {{"quantization_config", gptq ? gptq->raw : awq->raw},
                    {"config_file", gptq ? gptq->source : awq->source},
                    {"shards", ckpt->shards().size()}};
  return m;
}

}  // namespace

std::vector<BackendSpec> gptq_awq_backends() {
  return {
      {"gptq-int4", "GPTQ 4-bit checkpoint (AutoGPTQ/GPTQModel, act-order, sym/asym), int4 CPU kernels, FP32 activations",
       [](const std::string& p) { return detects_quiet(p, find_gptq_config); },
       [](const std::string& p) { return load_int4(p, "gptq-int4"); }},
      {"awq-int4", "AWQ 4-bit checkpoint (AutoAWQ GEMM layout), int4 CPU kernels, FP32 activations",
       [](const std::string& p) { return detects_quiet(p, find_awq_config); },
       [](const std::string& p) { return load_int4(p, "awq-int4"); }},
  };
}

}  // namespace qbench
