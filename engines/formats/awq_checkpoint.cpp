#include "engines/formats/awq_checkpoint.h"

#include <algorithm>
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

// First present key of `keys`, else def.
template <class T>
T get_any(const nlohmann::json& j, std::initializer_list<const char*> keys, T def, const std::string& where) {
  for (const char* k : keys) {
    if (!j.contains(k) || j[k].is_null()) continue;
    try {
      return j[k].get<T>();
    } catch (const nlohmann::json::exception&) {
      throw Error(where + ": '" + k + "' has the wrong type (" + j[k].dump() + ")");
    }
  }
  return def;
}

}  // namespace

void AwqConfig::validate() const {
  if (bits != 4) throw Error(source + ": AWQ bits=" + std::to_string(bits) + " is not supported (qbench reads 4-bit AWQ)");
  if (group_size == 0 || group_size < -1) throw Error(source + ": AWQ group_size=" + std::to_string(group_size) + " is invalid");
  if (version != "gemm")
    throw Error(source + ": AWQ version '" + version + "' is not supported (qbench reads AutoAWQ's GEMM layout)");
  if (!zero_point) throw Error(source + ": AWQ zero_point=false is not supported (AutoAWQ GEMM checkpoints use zero points)");
}

AwqConfig parse_awq_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": quantization config is not a JSON object");
  AwqConfig c;
  c.source = where;
  c.raw = j;
  c.bits = get_any<int>(j, {"bits", "w_bit"}, 4, where);
  c.group_size = get_any<int64_t>(j, {"group_size", "q_group_size"}, 128, where);
  c.zero_point = get_any<bool>(j, {"zero_point"}, true, where);
  c.version = get_any<std::string>(j, {"version"}, "gemm", where);
  std::transform(c.version.begin(), c.version.end(), c.version.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  c.validate();
  return c;
}

std::optional<AwqConfig> find_awq_config(const std::string& dir) {
  std::error_code ec;
  const fs::path cfg = fs::path(dir) / "config.json";
  if (fs::exists(cfg, ec)) {
    const auto j = parse_json_file(cfg.string());
    if (j.is_object() && j.contains("quantization_config")) {
      const auto& q = j["quantization_config"];
      if (q.is_object() && q.contains("quant_method") && q["quant_method"] == "awq")
        return parse_awq_config(q, cfg.string() + " (quantization_config)");
      return std::nullopt;
    }
  }
  const fs::path old = fs::path(dir) / "quant_config.json";  // AutoAWQ before transformers integration
  if (fs::exists(old, ec)) return parse_awq_config(parse_json_file(old.string()), old.string());
  return std::nullopt;
}

quant::Int4Codes read_awq_linear(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out,
                                 const AwqConfig& cfg) {
  cfg.validate();
  if (out % 8 != 0)
    throw Error(quant_layer_error(prefix, "AWQ int4 needs out features divisible by 8, got " + std::to_string(out)));
  quant::Int4Codes c;
  c.resize(in, out, cfg.group_size);
  const auto& qw = require_quant_tensor(src, prefix + ".qweight", DType::I32, {in, out / 8});
  const auto& qz = require_quant_tensor(src, prefix + ".qzeros", DType::I32, {c.groups, out / 8});
  c.scale = require_scales(src, prefix + ".scales", {c.groups, out});
  quant::awq_unpack_qweight(qw.data, in, out, c.q.data());
  quant::unpack_cols(qz.data, c.groups, out, /*awq_order=*/true, 0, c.zero.data());
  return c;
}

}  // namespace qbench
