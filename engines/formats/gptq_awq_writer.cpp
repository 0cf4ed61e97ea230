#include "engines/formats/gptq_awq_writer.h"
#include "engines/formats/hf_side_files.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/safetensors_writer.h"
#include "engines/quant/int4_packing.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

TensorToWrite int32_tensor(const std::string& name, std::vector<int64_t> shape, std::function<void(int32_t*)> fill) {
  return {name, DType::I32, std::move(shape), [fill](uint8_t* d, uint64_t) { fill(reinterpret_cast<int32_t*>(d)); }};
}

TensorToWrite f16_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>* values) {
  return {name, DType::F16, std::move(shape), [values](uint8_t* d, uint64_t nb) {
            auto* h = reinterpret_cast<uint16_t*>(d);
            for (uint64_t i = 0; i < nb / 2; ++i) h[i] = f32_to_f16((*values)[i]);
          }};
}

// The AutoGPTQ / AutoAWQ config objects, keys in the order the tools write them.
nlohmann::ordered_json quant_config(const Int4Checkpoint& ck) {
  nlohmann::ordered_json j;
  if (ck.format == Int4FileFormat::Gptq) {
    j["bits"] = 4;
    j["group_size"] = ck.group_size;
    j["damp_percent"] = ck.damp;
    j["desc_act"] = ck.desc_act;
    j["static_groups"] = false;
    j["sym"] = ck.sym;
    j["true_sequential"] = true;
    j["model_name_or_path"] = nullptr;
    j["model_file_base_name"] = "model";
    j["quant_method"] = "gptq";
    j["checkpoint_format"] = "gptq";
  } else {
    j["quant_method"] = "awq";
    j["zero_point"] = true;
    j["group_size"] = ck.group_size;
    j["bits"] = 4;
    j["version"] = "gemm";
    j["modules_to_not_convert"] = nullptr;
  }
  return j;
}

}  // namespace

uint64_t write_int4_checkpoint(const std::string& src_dir, const std::string& out_dir, const Int4Checkpoint& ck) {
  HfCheckpoint src(src_dir);
  const bool gptq = ck.format == Int4FileFormat::Gptq;
  std::vector<TensorToWrite> ts;
  for (const auto& name : src.names()) {
    const std::string prefix = name.ends_with(".weight") ? name.substr(0, name.size() - 7) : "";
    if (!prefix.empty() && ck.linears.count(prefix)) continue;  // replaced by its quantized tensors
    const TensorRef* t = src.find(name);
    if (auto r = ck.replacements.find(name); r != ck.replacements.end()) {
      if (int64_t(r->second.size()) != t->numel()) throw Error("replacement for '" + name + "' has the wrong size");
      ts.push_back(f16_tensor(name, t->shape, &r->second));
    } else {
      ts.push_back({name, t->dtype, t->shape, [t](uint8_t* d, uint64_t nb) { std::memcpy(d, t->data, nb); }});
    }
  }
  // Scales widened back to F16 (the quantizers chose F16-exact values).
  for (const auto& [prefix, c] : ck.linears) {
    const quant::Int4Codes* cp = &c;
    if (c.out % 8 || (gptq && c.in % 8)) throw Error("layer '" + prefix + "': int4 packing needs dimensions divisible by 8");
    ts.push_back(f16_tensor(prefix + ".scales", {c.groups, c.out}, &c.scale));
    if (gptq) {
      ts.push_back(int32_tensor(prefix + ".qweight", {c.in / 8, c.out}, [cp](int32_t* w) { quant::gptq_pack_qweight(cp->q.data(), cp->in, cp->out, w); }));
      ts.push_back(int32_tensor(prefix + ".qzeros", {c.groups, c.out / 8}, [cp](int32_t* w) { quant::pack_cols(cp->zero.data(), cp->groups, cp->out, false, 1, w); }));
      ts.push_back(int32_tensor(prefix + ".g_idx", {c.in}, [cp](int32_t* w) {
        for (int64_t i = 0; i < cp->in; ++i) w[i] = int32_t(cp->group_of(i));
      }));
    } else {
      ts.push_back(int32_tensor(prefix + ".qweight", {c.in, c.out / 8}, [cp](int32_t* w) { quant::awq_pack_qweight(cp->q.data(), cp->in, cp->out, w); }));
      ts.push_back(int32_tensor(prefix + ".qzeros", {c.groups, c.out / 8}, [cp](int32_t* w) { quant::pack_cols(cp->zero.data(), cp->groups, cp->out, true, 0, w); }));
    }
  }
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (gptq)
    meta.insert({{"gptq_bits", "4"}, {"gptq_group_size", std::to_string(ck.group_size)}, {"gptq_desc_act", ck.desc_act ? "True" : "False"},
                 {"gptq_damp_percent", std::to_string(ck.damp)}, {"gptq_checkpoint_format", "gptq"}, {"gptq_quant_method", "gptq"}});
  fs::create_directories(out_dir);
  write_safetensors_checkpoint(out_dir, ts, meta, 4ull << 30);

  nlohmann::ordered_json cfg = nlohmann::ordered_json::parse(src.config_text());
  cfg["quantization_config"] = quant_config(ck);
  write_text_file_atomic((fs::path(out_dir) / "config.json").string(), cfg.dump(2) + "\n");
  if (gptq) write_text_file_atomic((fs::path(out_dir) / "quantize_config.json").string(), quant_config(ck).dump(2) + "\n");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    if (fs::exists(fs::path(src_dir) / f)) fs::copy_file(fs::path(src_dir) / f, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
  uint64_t bytes = 0;
  for (auto& t : ts) bytes += t.nbytes();
  return bytes;
}

}  // namespace qbench
