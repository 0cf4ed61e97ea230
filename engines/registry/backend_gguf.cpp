// GGUF files (llama.cpp): weights used in place from the mapping, each Linear
// of its tensor's block type, config and tokenizer from the file's metadata.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "engines/core/error.h"
#include "engines/formats/gguf_model.h"
#include "engines/registry/backends.h"

namespace qbench {

namespace {

// llama.cpp's LLAMA_FTYPE_* values for the mixes that have a named backend.
constexpr int64_t kFtypeQ8_0 = 7, kFtypeQ4_K_M = 15, kFtypeQ5_K_S = 16;

bool is_gguf_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && GgufFile::has_magic(path);
}

// general.file_type of a file (-1 when absent or unreadable); cached because
// detection asks once per backend.
int64_t file_type_of(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, int64_t> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(path); it != cache.end()) return it->second;
  int64_t ft = -1;
  try {
    GgufFile f(path);
    if (const GgufValue* v = f.find("general.file_type")) ft = v->to_int("general.file_type");
  } catch (const Error&) {
  }
  return cache[path] = ft;
}

std::string ftype_name(int64_t ft) {
  switch (ft) {
    case 0: return "all F32";   case 1: return "mostly F16"; case 2: return "mostly Q4_0"; case 3: return "mostly Q4_1";
    case 7: return "mostly Q8_0"; case 8: return "mostly Q5_0"; case 9: return "mostly Q5_1";
    case 15: return "Q4_K_M"; case 14: return "Q4_K_S"; case 16: return "Q5_K_S"; case 17: return "Q5_K_M";
    case 18: return "Q6_K"; case 32: return "mostly BF16";
    default: return "file_type " + std::to_string(ft);
  }
}

LoadedModel load_gguf(const std::string& path, const std::string& backend, int64_t want_ftype) {
  auto file = std::make_shared<const GgufFile>(path);
  const GgufValue* ftv = file->find("general.file_type");
  const int64_t ft = ftv ? ftv->to_int("general.file_type") : -1;
  if (want_ftype >= 0 && ft != want_ftype)
    throw Error(path + ": backend " + backend + " expects a " + ftype_name(want_ftype) + " file, this one is " + ftype_name(ft) +
                " (use --backend gguf)");
  LoadedModel m;
  m.config = gguf_model_config(*file);
  m.weights = gguf_model_weights(file, m.config);
  if (gguf_has_tokenizer(*file)) m.tokenizer = gguf_tokenizer(*file);
  m.info.path = path;
  m.info.backend = backend;
  m.info.format = "gguf";
  m.info.file_bytes = file->file_bytes();
  // Linear kinds by how many projections use them, most common first: "q4_k+q6_k".
  auto kinds = m.weights.linear_kinds();
  std::stable_sort(kinds.begin(), kinds.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::string wd;
  for (auto& [k, n] : kinds) wd += (wd.empty() ? "" : "+") + k;
  m.info.weight_dtype = wd;
  nlohmann::json counts = nlohmann::json::object();
  for (auto& [k, n] : gguf_type_counts(*file)) counts[k] = n;
  m.info.details = {{"gguf_version", file->version()}, {"file_type", ft}, {"file_type_name", ftype_name(ft)},
                    {"tensor_types", counts}, {"tensors", file->tensors().size()}, {"alignment", file->alignment()}};
  if (const GgufValue* n = file->find("general.name"); n && n->type == GgufType::STRING) m.info.details["name"] = n->s;
  return m;
}

BackendSpec mix_backend(const char* name, const char* desc, int64_t ftype) {
  return {name, desc, [ftype](const std::string& p) { return is_gguf_file(p) && file_type_of(p) == ftype; },
          [name = std::string(name), ftype](const std::string& p) { return load_gguf(p, name, ftype); }};
}

}  // namespace

std::vector<BackendSpec> gguf_backends() {
  return {
      mix_backend("gguf-q4_k_m", "GGUF Q4_K_M (Q4_K + Q6_K, legacy Q5_0/Q8_0 fallbacks), Q8_K activations", kFtypeQ4_K_M),
      mix_backend("gguf-q5_k_s", "GGUF Q5_K_S (Q5_K + Q6_K, legacy Q5_1/Q8_0 fallbacks), Q8_K activations", kFtypeQ5_K_S),
      mix_backend("gguf-q8_0", "GGUF Q8_0, Q8_0 activations", kFtypeQ8_0),
      {"gguf", "any GGUF v3 file (F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K tensors)", is_gguf_file,
       [](const std::string& p) { return load_gguf(p, "gguf", -1); }},
  };
}

}  // namespace qbench
