#pragma once
// The composition root: maps backend names (fp16, gguf-q4_k_m, gptq-int4, ...)
// to loaders and devices, and detects the backend from the files.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engines/registry/engine.h"

namespace qbench {

// What a format loader returns: the weights as Linears plus everything results need.
struct LoadedModel {
  ModelConfig config;
  ModelWeights weights;
  std::optional<Tokenizer> tokenizer;
  ModelInfo info;
};

struct BackendSpec {
  std::string name;
  std::string description;
  // True when this backend reads `path` (a directory or a file). Auto-detection
  // takes the first backend in table order that says yes.
  std::function<bool(const std::string& path)> detects;
  std::function<LoadedModel(const std::string& path)> load;
};

// A device other than the CPU (e.g. "cuda"), registered at start-up by the
// program that links its implementation (no link-time dependency from here).
struct DeviceSpec {
  // Builds the transformer on the device from a model loaded on the host.
  std::function<std::unique_ptr<Transformer>(LoadedModel& m, const LoadOptions& opts)> build;
  // The device's own view of its memory now (free/total, this process's use);
  // results put it next to the engine's accounting. May be empty.
  std::function<nlohmann::json()> memory_report;
};
void register_device(const std::string& name, DeviceSpec spec);
std::vector<std::string> known_devices();  // "cpu" first
// The registered device's memory report; null for the CPU or an unknown device.
nlohmann::json device_memory_report(const std::string& device);

const std::vector<BackendSpec>& backends();
std::vector<std::string> known_backends();
// Throws qbench::Error naming the path when no backend recognises it.
std::string detect_backend(const std::string& path);
std::unique_ptr<Engine> load_engine(const LoadOptions& opts);

}  // namespace qbench
