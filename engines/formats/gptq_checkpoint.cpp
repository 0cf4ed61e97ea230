#include "engines/formats/gptq_checkpoint.h"

#include <cstring>
#include <filesystem>

#include "engines/core/error.h"
#include "engines/formats/gptq_awq_tensors.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/quant/int4_packing.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

nlohmann::json parse_json_file(const std::string& path) {
  try {
    return nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed JSON: " + e.what());
  }
}

template <class T>
T get_or(const nlohmann::json& j, const char* key, T def, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return def;
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(where + ": '" + key + "' has the wrong type (" + j[key].dump() + ")");
  }
}

}  // namespace

void GptqConfig::validate() const {
  if (bits != 4) throw Error(source + ": GPTQ bits=" + std::to_string(bits) + " is not supported (qbench reads 4-bit GPTQ)");
  if (group_size == 0 || group_size < -1) throw Error(source + ": GPTQ group_size=" + std::to_string(group_size) + " is invalid");
  if (checkpoint_format != "gptq" && checkpoint_format != "gptq_v2")
    throw Error(source + ": GPTQ checkpoint_format '" + checkpoint_format + "' is not supported (gptq or gptq_v2)");
}

GptqConfig parse_gptq_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": quantization config is not a JSON object");
  GptqConfig c;
  c.source = where;
  c.raw = j;
  c.bits = get_or<int>(j, "bits", 4, where);
  c.group_size = get_or<int64_t>(j, "group_size", 128, where);
  c.sym = get_or<bool>(j, "sym", true, where);
  c.desc_act = get_or<bool>(j, "desc_act", false, where);
  // GPTQModel spells it "format" in some versions.
  c.checkpoint_format = get_or<std::string>(j, "checkpoint_format", get_or<std::string>(j, "format", "gptq", where), where);
  const std::string method = get_or<std::string>(j, "quant_method", "gptq", where);
  if (method != "gptq") throw Error(where + ": quant_method '" + method + "' is not gptq");
  c.validate();
  return c;
}

std::optional<GptqConfig> find_gptq_config(const std::string& dir) {
  std::error_code ec;
  const fs::path qc = fs::path(dir) / "quantize_config.json";
  if (fs::exists(qc, ec)) {
    const auto j = parse_json_file(qc.string());
    if (j.is_object() && j.contains("quant_method") && j["quant_method"] != "gptq") return std::nullopt;
    return parse_gptq_config(j, qc.string());
  }
  const fs::path cfg = fs::path(dir) / "config.json";
  if (!fs::exists(cfg, ec)) return std::nullopt;
  const auto j = parse_json_file(cfg.string());
  if (!j.is_object() || !j.contains("quantization_config")) return std::nullopt;
  const auto& q = j["quantization_config"];
  if (!q.is_object() || !q.contains("quant_method") || q["quant_method"] != "gptq") return std::nullopt;
  return parse_gptq_config(q, cfg.string() + " (quantization_config)");
}

quant::Int4Codes read_gptq_linear(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out,
                                  const GptqConfig& cfg) {
  cfg.validate();
  if (in % 8 != 0 || out % 8 != 0)
    throw Error(quant_layer_error(prefix, "GPTQ int4 needs in and out features divisible by 8, got [" + std::to_string(out) +
                                              ", " + std::to_string(in) + "]"));
  quant::Int4Codes c;
  c.resize(in, out, cfg.group_size);
  const auto& qw = require_quant_tensor(src, prefix + ".qweight", DType::I32, {in / 8, out});
  const auto& qz = require_quant_tensor(src, prefix + ".qzeros", DType::I32, {c.groups, out / 8});
  c.scale = require_scales(src, prefix + ".scales", {c.groups, out});
  quant::gptq_unpack_qweight(qw.data, in, out, c.q.data());
  quant::unpack_cols(qz.data, c.groups, out, /*awq_order=*/false, cfg.zeros_minus_one() ? 1 : 0, c.zero.data());

  if (const TensorRef* gi = src.find(prefix + ".g_idx")) {
    require_quant_tensor(src, prefix + ".g_idx", DType::I32, {in});
    std::vector<int32_t> g(static_cast<size_t>(in));
    std::memcpy(g.data(), gi->data, size_t(in) * 4);
    bool natural = true;
    for (int64_t i = 0; i < in; ++i) {
      if (g[size_t(i)] < 0 || g[size_t(i)] >= c.groups)
        throw Error(gi->file + ": tensor '" + gi->name + "' entry " + std::to_string(i) + " is group " +
                    std::to_string(g[size_t(i)]) + ", outside 0.." + std::to_string(c.groups - 1));
      natural = natural && g[size_t(i)] == i / c.group_size;
    }
    if (!natural) c.g_idx = std::move(g);
  } else if (cfg.desc_act) {
    throw Error(quant_layer_error(prefix, "desc_act=true but the checkpoint has no '" + prefix + ".g_idx'"));
  }
  return c;
}

}  // namespace qbench
