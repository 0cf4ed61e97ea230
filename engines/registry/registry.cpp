#include "engines/registry/registry.h"

#include <omp.h>

#include <filesystem>
#include <map>

#include "engines/core/error.h"
#include "engines/cpu/ops_cpu.h"
#include "engines/registry/backends.h"

namespace qbench {

namespace {
std::map<std::string, DeviceSpec>& device_table() {
  static std::map<std::string, DeviceSpec> t;
  return t;
}
}  // namespace

void register_device(const std::string& name, DeviceSpec spec) { device_table()[name] = std::move(spec); }

std::vector<std::string> known_devices() {
  std::vector<std::string> out = {"cpu"};
  for (auto& [name, spec] : device_table()) out.push_back(name);
  return out;
}

nlohmann::json device_memory_report(const std::string& device) {
  auto it = device_table().find(device);
  if (it == device_table().end() || !it->second.memory_report) return nullptr;
  return it->second.memory_report();
}

const std::vector<BackendSpec>& backends() {
  static const std::vector<BackendSpec> table = [] {
    std::vector<BackendSpec> t;
    for (auto* family : {&hf_dense_backends, &gguf_backends, &gptq_awq_backends}) {
      auto entries = (*family)();
      t.insert(t.end(), entries.begin(), entries.end());
    }
    return t;
  }();
  return table;
}

std::vector<std::string> known_backends() {
  std::vector<std::string> out;
  for (auto& b : backends()) out.push_back(b.name);
  return out;
}

std::string detect_backend(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such file or directory");
  for (auto& b : backends())
    if (b.detects(path)) return b.name;
  throw Error(path + ": not a model qbench recognises (an HF checkpoint directory with config.json, or a .gguf file)");
}

std::unique_ptr<Engine> load_engine(const LoadOptions& opts) {
  const std::string name = opts.backend.empty() || opts.backend == "auto" ? detect_backend(opts.path) : opts.backend;
  const BackendSpec* spec = nullptr;
  for (auto& b : backends())
    if (b.name == name) spec = &b;
  if (!spec) {
    std::string list;
    for (auto& n : known_backends()) list += (list.empty() ? "" : ", ") + n;
    throw Error("unknown backend '" + name + "' (known: " + list + ")");
  }
  const DeviceSpec* device = nullptr;
  if (opts.device != "cpu") {
    auto it = device_table().find(opts.device);
    if (it == device_table().end()) {
      std::string list;
      for (auto& n : known_devices()) list += (list.empty() ? "" : ", ") + n;
      throw Error("device '" + opts.device + "' is not available in this build (devices: " + list + ")");
    }
    device = &it->second;
  }
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  LoadedModel m = spec->load(opts.path);
  m.info.backend = name;
  m.info.device = opts.device;
  auto model = device ? device->build(m, opts)
                      : std::make_unique<Transformer>(std::move(m.config), std::move(m.weights), make_cpu_ops(), opts.max_chunk);
  return std::make_unique<Engine>(std::move(m.info), std::move(model), std::move(m.tokenizer));
}

}  // namespace qbench
